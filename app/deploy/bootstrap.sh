#!/bin/sh
# Install the booking service on a VM: what cloud-init runs.
#
#   bootstrap.sh (--wheel-url URL | --wheel-file PATH) --sha256 HEX [--env KEY=VALUE ...] [--prefix DIR]
#                [--unit-file PATH] [--python PYTHON] [--pip-args "ARGS"] [--no-systemd]
#
# Downloads the wheel (or takes the local file the release extension delivered), refuses it unless its sha256 matches, installs it into a fresh virtualenv under
# PREFIX/opt/booking/releases/<sha256>, switches PREFIX/opt/booking/current to it atomically, writes
# PREFIX/etc/booking/booking.env (mode 0640) and the systemd unit, then enables and (re)starts the service.
# Any failure before the switch leaves the previous release running untouched.
#
# Environment: SYSTEMCTL (default: systemctl) is the command used to talk to systemd.
set -eu

die() { echo "bootstrap: $*" >&2; exit "${EXIT:-1}"; }

WHEEL_URL=""; WHEEL_FILE=""; SHA256=""; PREFIX=""; UNIT_FILE=""; PYTHON="python3"; PIP_ARGS=""; SYSTEMD=1
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
ENV_LINES=""
NL='
'
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel-url) WHEEL_URL="$2"; shift 2 ;;
    --wheel-file) WHEEL_FILE="$2"; shift 2 ;;
    --sha256) SHA256="$2"; shift 2 ;;
    --prefix) PREFIX="${2%/}"; shift 2 ;;
    --unit-file) UNIT_FILE="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --pip-args) PIP_ARGS="$2"; shift 2 ;;
    --env)
      case "$2" in
        [A-Z_]*=*) ENV_LINES="${ENV_LINES}$2${NL}" ;;
        *) EXIT=2 die "--env '$2' must look like KEY=VALUE with an upper-case KEY" ;;
      esac
      shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) EXIT=2 die "unknown argument '$1'; see --help" ;;
  esac
done

[ -n "$WHEEL_URL$WHEEL_FILE" ] || EXIT=2 die "--wheel-url is required (URL of booking-<version>-py3-none-any.whl), or --wheel-file PATH"
echo "$SHA256" | grep -Eq '^[0-9a-f]{64}$' || EXIT=2 die "--sha256 '$SHA256' must be 64 lower-case hex digits"
if [ -n "$WHEEL_FILE" ]; then
  [ -r "$WHEEL_FILE" ] || EXIT=2 die "--wheel-file '$WHEEL_FILE' is not a readable file"
  WHEEL_NAME="${WHEEL_FILE##*/}"
else
  case "$WHEEL_URL" in
    http://*|https://*) ;;
    *) EXIT=2 die "--wheel-url '$WHEEL_URL' must be an http(s) URL" ;;
  esac
  WHEEL_NAME="${WHEEL_URL##*/}"; WHEEL_NAME="${WHEEL_NAME%%\?*}"
fi
case "$WHEEL_NAME" in
  booking-*.whl) ;;
  *) EXIT=2 die "--wheel-url must end in booking-<version>-...whl, got '$WHEEL_NAME'" ;;
esac
if [ -z "$UNIT_FILE" ]; then UNIT_FILE="$(dirname "$0")/booking.service"; fi
[ -r "$UNIT_FILE" ] || EXIT=2 die "unit file '$UNIT_FILE' not found; pass --unit-file"

BASE="$PREFIX/opt/booking"
ETC="$PREFIX/etc/booking"
UNIT_DIR="$PREFIX/etc/systemd/system"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT INT TERM

if [ -n "$WHEEL_FILE" ]; then
  cp "$WHEEL_FILE" "$WORK/$WHEEL_NAME"
else
  echo "bootstrap: downloading $WHEEL_URL"
  curl -fsSL --retry 3 --connect-timeout 10 --max-time 300 -o "$WORK/$WHEEL_NAME" "$WHEEL_URL" \
    || die "download of $WHEEL_URL failed; check the URL and the VM's access to the release container"
fi
ACTUAL="$(sha256sum "$WORK/$WHEEL_NAME" | cut -d' ' -f1)"
if [ "$ACTUAL" != "$SHA256" ]; then
  EXIT=3 die "sha256 mismatch for $WHEEL_NAME: expected $SHA256, got $ACTUAL; refusing to install"
fi

RELEASE="$BASE/releases/$SHA256"
if [ ! -x "$RELEASE/bin/booking" ]; then
  # a release directory is private to its sha256 and only becomes live through the `current` switch below,
  # so building it in place is safe; a failed build is removed
  rm -rf "$RELEASE"
  mkdir -p "$BASE/releases"
  "$PYTHON" -m venv "$RELEASE" || { rm -rf "$RELEASE"; die "could not create a virtualenv with $PYTHON"; }
  # shellcheck disable=SC2086  # PIP_ARGS is a list of options on purpose
  "$RELEASE/bin/pip" install --quiet --disable-pip-version-check $PIP_ARGS "$WORK/$WHEEL_NAME" \
    || { rm -rf "$RELEASE"; die "pip install of $WHEEL_NAME failed; the previous release is untouched"; }
fi

mkdir -p "$ETC" "$UNIT_DIR"
ENV_FILE="$ETC/booking.env"
umask 027
{
  echo "# written by bootstrap.sh; secrets come from Key Vault, never from custom data"
  printf 'BOOKING_HOST=0.0.0.0\nBOOKING_PORT=8000\nBOOKING_WORKERS=2\n'
  printf '%s' "$ENV_LINES"
} > "$ENV_FILE.tmp"
chmod 0640 "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
sed -e "s#/opt/booking#$BASE#g" -e "s#/etc/booking#$ETC#g" "$UNIT_FILE" > "$UNIT_DIR/booking.service.tmp"
chmod 0644 "$UNIT_DIR/booking.service.tmp"
mv "$UNIT_DIR/booking.service.tmp" "$UNIT_DIR/booking.service"

ln -sfn "$RELEASE" "$BASE/current.tmp"
mv -T "$BASE/current.tmp" "$BASE/current"
echo "bootstrap: installed $WHEEL_NAME at $RELEASE"

if [ "$SYSTEMD" -eq 1 ]; then
  "$SYSTEMCTL" daemon-reload
  "$SYSTEMCTL" enable booking.service
  "$SYSTEMCTL" restart booking.service
  echo "bootstrap: booking.service enabled and started"
else
  echo "bootstrap: --no-systemd given; not starting the service"
fi
