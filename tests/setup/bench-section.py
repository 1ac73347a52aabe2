#!/usr/bin/env python3
"""Writes one benchmark section into docs/benchmarks.md, between its markers, replacing what was there.

usage: bench-section.py NAME TITLE COMMAND < BODY
The section is headed with the command that wrote it and when; BODY (the table and its notes) is read from stdin.
"""
import datetime
import os
import sys

name, title, command = sys.argv[1:4]
body = sys.stdin.read().strip()
path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "benchmarks.md")
begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
measured = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
section = f"""{begin}
## {title}

Command: `{command}`  
Measured: {measured} UTC on {os.cpu_count()} cores

{body}
{end}"""
with open(path) as f:
    text = f.read()
if begin in text:
    text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
else:
    text = text.rstrip() + "\n\n" + section + "\n"
with open(path, "w") as f:
    f.write(text)
