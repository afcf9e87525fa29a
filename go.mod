module github.com/nocontact/nocontact

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/Microsoft/go-winio v0.6.4
	github.com/kardianos/service v1.3.0
	github.com/miekg/dns v1.1.73
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.57.0 // indirect
