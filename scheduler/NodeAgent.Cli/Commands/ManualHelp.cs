using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace NodeAgent.Cli.Commands;

/// <summary>A command whose <c>--help</c> carries a manual: what it does, in full, under the usual usage and options.</summary>
internal sealed class ManualCommand(string name, string summary, string manual) : Command(name, summary)
{
    /// <summary>The manual's text, in paragraphs; <see cref="Command.Description"/> stays the one-line summary `ws --help` lists.</summary>
    public string Manual { get; } = manual;
}

/// <summary>Makes <c>--help</c> print a <see cref="ManualCommand"/>'s manual after the generated usage and options.</summary>
public static class ManualHelp
{
    public static void Install(RootCommand root)
    {
        foreach (var help in root.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction generated)
            {
                help.Action = new WithManual(generated);
            }
        }
    }

    private sealed class WithManual(HelpAction generated) : SynchronousCommandLineAction
    {
        /// <summary>As the generated help: `ws stop --help` shows help even though LEASE-ID is missing.</summary>
        public override bool ClearsParseErrors => generated.ClearsParseErrors;

        public override int Invoke(ParseResult parseResult)
        {
            var code = generated.Invoke(parseResult);
            if (parseResult.CommandResult.Command is ManualCommand command)
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Manual:");
                foreach (var line in command.Manual.TrimEnd().Split('\n'))
                {
                    output.WriteLine(line.Length == 0 ? string.Empty : "  " + line.TrimEnd());
                }

                output.WriteLine();
            }

            return code;
        }
    }
}
