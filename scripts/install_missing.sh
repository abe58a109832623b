# Sourced by setup.sh and setup_bench.sh:
#   install_missing LABEL PACKAGE...
# installs the Debian packages of the list that are missing (with sudo when
# not root); a machine that has them all is left alone (no apt-get update).

is_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

install_missing() {
  local label=$1
  shift
  local missing=() package
  for package in "$@"; do
    is_installed "$package" || missing+=("$package")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "$label: all $# packages are installed"
    return 0
  fi
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "$label: missing packages (${missing[*]}) and not root; install them or run as root" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "$label: installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
