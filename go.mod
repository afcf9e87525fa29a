module github.com/nocontact/nocontact

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/Microsoft/go-winio v0.6.4
	github.com/creack/pty v1.1.24
	github.com/kardianos/service v1.3.0
	github.com/miekg/dns v1.1.73
	golang.org/x/sys v0.49.0
)

require (
	github.com/google/nftables v0.3.0
	github.com/skip2/go-qrcode v0.0.0-20200617195104-da1b6568686e
	golang.org/x/net v0.57.0
)

require (
	github.com/google/go-cmp v0.6.0 // indirect
	github.com/mdlayher/netlink v1.7.3-0.20250113171957-fbb4dce95f42 // indirect
	github.com/mdlayher/socket v0.5.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
)
