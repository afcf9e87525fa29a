#!/bin/sh
# After the package is installed (deb: postinst configure; rpm: %post).
# The package only puts the program in place; it never touches the DNS
# settings, the hosts file or the service manager. The person starts
# nocontact themselves.
set -e
case "${1:-}" in
configure | 1 | 2 | "")
  cat <<'NOTE'

nocontact is on this computer, but it is not running and nothing has changed yet.
To set up your pact and start it:

    sudo nocontact start

(or write your settings from /etc/nocontact/nocontact.toml.example and run
'sudo nocontact install --config YOUR-SETTINGS'). 'nocontact doctor' checks it afterwards.
If nocontact is installed as a service already, run 'sudo nocontact install'
again to move the service onto this version.

NOTE
  ;;
esac
exit 0
