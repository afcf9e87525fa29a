$ErrorActionPreference = 'Stop'
Remove-NetFirewallRule -Group 'nocontact' -ErrorAction SilentlyContinue
New-NetFirewallRule -Name 'nocontact-dns-udp' -DisplayName 'nocontact: DNS around the filter (UDP 53, 853)' -Group 'nocontact' -Direction Outbound -Action Block -Protocol UDP -RemotePort 53,853 -RemoteAddress '0.0.0.0-126.255.255.255','128.0.0.0-255.255.255.255','::','::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' | Out-Null
New-NetFirewallRule -Name 'nocontact-dns-tcp' -DisplayName 'nocontact: DNS around the filter (TCP 53, 853)' -Group 'nocontact' -Direction Outbound -Action Block -Protocol TCP -RemotePort 53,853 -RemoteAddress '0.0.0.0-126.255.255.255','128.0.0.0-255.255.255.255','::','::2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' | Out-Null
