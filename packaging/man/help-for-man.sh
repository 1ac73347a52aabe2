#!/bin/sh
# help-for-man.sh PROGRAM --help: PROGRAM's --help reshaped into the GNU layout help2man reads ("Usage: ..." first,
# then the description, then the option list), so the man page gets a SYNOPSIS and a plain DESCRIPTION instead of
# System.CommandLine's "Description:" and "Usage:" headings rendered as sub-sections.
set -e
program=$1
shift
"$program" "$@" | awk '
  /^Description:$/ { mode = "description"; next }
  /^Usage:$/       { mode = "usage"; next }
  mode == "description" && /^$/ { mode = ""; next }
  mode == "description" { sub(/^  /, ""); description = description $0 "\n"; next }
  mode == "usage" && /^  / {
    sub(/^  /, "")
    printf "Usage: %s\n\n%s\n", $0, description
    mode = ""
    next
  }
  { print }
'
