package firewall

// Mark is the socket mark (SO_MARK) of nocontact's own upstream sockets
// on Linux, which the nftables table lets through. Low bits only, and
// none of the bits that common VPNs and routing setups match (Tailscale's
// 0xff0000 mask, WireGuard's 51820), so that it changes nothing of how
// the packets are routed. "nc".
const Mark = 0x6e63
