# Sourced by the build scripts: sets $version from <Version> in Directory.Build.props (the programs' own --version),
# so packages and programs never disagree.
version=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' "$(dirname "${BASH_SOURCE[0]}")/../Directory.Build.props" | head -1)
if [[ -z $version ]]; then
  echo "version.sh: no <Version> in Directory.Build.props; the packages take their version from there" >&2
  exit 1
fi
