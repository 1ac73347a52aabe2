# Sourced by build-deb.sh and build-rpm.sh: sets here, repo, bin, out and release from [--bin DIR] [--out DIR]
# [--release N]; $script names the caller in the error for an unknown argument.
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
bin=$repo/out/bin out=$repo/out/packages release=1
while (($#)); do
  case $1 in
    --bin) bin=$(realpath "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --release) release=$2; shift 2 ;;
    *) echo "$script: unknown argument '$1'; see the comment at the top of $0" >&2; exit 2 ;;
  esac
done
