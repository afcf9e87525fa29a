package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nft (ModeNftables) is the layer as an nftables table of its own, "inet
// nocontact", with one base chain on the output hook and two sets of
// encrypted-DNS addresses (IPv4 and IPv6) whose elements expire on their
// own. In nft's words:
//
//	table inet nocontact {
//		set doh4 { type ipv4_addr; flags timeout; }
//		set doh6 { type ipv6_addr; flags timeout; }
//		chain output {
//			type filter hook output priority filter; policy accept;
//			meta mark 0x6e63 accept
//			oifname "lo" accept
//			meta l4proto udp th dport 53 reject with icmpx admin-prohibited
//			meta l4proto tcp th dport 53 reject with tcp reset
//			(the same for 853)
//			ip daddr @doh4 meta l4proto tcp th dport 443 reject with tcp reset
//			(udp, and ip6 daddr @doh6, the same)
//		}
//	}
//
// The packets are rejected rather than silently dropped, so that a
// program asking around the filter fails at once instead of after its
// timeout, and falls back to the system's resolver (the filter). Another
// table's accept cannot undo a reject here: every base chain on the hook
// sees the packet. Everything is sent as one netlink batch, so the table
// is never half built.
type nft struct{ env Env }

// Ports refused to every address but loopback: DNS and DNS over TLS or
// QUIC. (The pf and Windows renderings write the same ports.)
var dnsPorts = []uint16{53, 853}

// httpsPort is refused to the encrypted-DNS addresses.
const httpsPort = 443

func newNftables(env Env) (Firewall, error) { return &nft{env: env}, nil }

func (n *nft) Mode() Mode { return ModeNftables }

// ruleTags name the chain's rules, in order, in each rule's user data:
// Check compares them to tell a table that someone edited.
var ruleTags = func() []string {
	tags := []string{"own-upstreams", "loopback"}
	for _, p := range dnsPorts {
		tags = append(tags, fmt.Sprintf("dns-udp-%d", p), fmt.Sprintf("dns-tcp-%d", p))
	}
	return append(tags, "doh4-udp", "doh4-tcp", "doh6-udp", "doh6-tcp")
}()

const (
	chainName = "output"
	set4Name  = "doh4"
	set6Name  = "doh6"
)

func (n *nft) table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: Name}
}

func (n *nft) sets(t *nftables.Table) (s4, s6 *nftables.Set) {
	return &nftables.Set{Table: t, Name: set4Name, KeyType: nftables.TypeIPAddr, HasTimeout: true},
		&nftables.Set{Table: t, Name: set6Name, KeyType: nftables.TypeIP6Addr, HasTimeout: true}
}

// elements splits r.DoH into the two sets' elements.
func elements(r Rules) (v4, v6 []nftables.SetElement) {
	seen := map[string]bool{}
	for _, e := range r.DoH {
		a := e.Addr.Unmap()
		if !a.IsValid() || seen[a.String()] {
			continue
		}
		seen[a.String()] = true
		keep := max(e.Keep, time.Second)
		if a.Is4() {
			v4 = append(v4, nftables.SetElement{Key: a.AsSlice(), Timeout: keep})
		} else {
			v6 = append(v6, nftables.SetElement{Key: a.AsSlice(), Timeout: keep})
		}
	}
	return v4, v6
}

// state says how the table stands: absent, present as built, or present
// but not as built (edited by someone).
type nftState int

const (
	nftAbsent nftState = iota
	nftIntact
	nftDamaged
)

func (n *nft) inspect(c *nftables.Conn) (nftState, string, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nftAbsent, "", fmt.Errorf("listing the nftables tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == Name }) {
		return nftAbsent, "the table inet " + Name + " is gone", nil
	}
	t := n.table()
	ch, err := c.ListChain(t, chainName)
	if err != nil || ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookOutput {
		return nftDamaged, "its output chain is gone", nil
	}
	rules, err := c.GetRules(t, ch)
	if err != nil {
		return nftAbsent, "", fmt.Errorf("listing the rules of the table inet %s: %w", Name, err)
	}
	var tags []string
	for _, r := range rules {
		tags = append(tags, string(r.UserData))
	}
	if !slices.Equal(tags, ruleTags) {
		return nftDamaged, fmt.Sprintf("its rules were changed (%d of %d left)", len(rules), len(ruleTags)), nil
	}
	for _, name := range []string{set4Name, set6Name} {
		if _, err := c.GetSetByName(t, name); err != nil {
			return nftDamaged, "its set " + name + " is gone", nil
		}
	}
	return nftIntact, "", nil
}

func (n *nft) Apply(ctx context.Context, r Rules) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening netlink to nftables: %w", err)
	}
	st, why, err := n.inspect(c)
	if err != nil {
		return err
	}
	t := n.table()
	s4, s6 := n.sets(t)
	v4, v6 := elements(r)
	if st == nftIntact {
		// Only the addresses change: flush and refill in one batch.
		for _, s := range []struct {
			set  *nftables.Set
			vals []nftables.SetElement
		}{{s4, v4}, {s6, v6}} {
			c.FlushSet(s.set)
			if len(s.vals) > 0 {
				if err := c.SetAddElements(s.set, s.vals); err != nil {
					return err
				}
			}
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("updating the encrypted-DNS addresses in the table inet %s: %w", Name, err)
		}
		return nil
	}
	if st == nftDamaged {
		n.env.Log.Warn("the firewall table was changed by something else; building it again", "why", why)
		c.DelTable(t)
	}
	n.build(c, t, s4, s6, v4, v6)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("creating the firewall table inet %s with nftables: %w", Name, err)
	}
	n.env.Log.Info("firewall layer in force", "table", "inet "+Name, "doh_addresses", len(v4)+len(v6))
	return nil
}

// build queues the whole table in c's batch.
func (n *nft) build(c *nftables.Conn, t *nftables.Table, s4, s6 *nftables.Set, v4, v6 []nftables.SetElement) {
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name: chainName, Table: t,
		Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter,
	})
	// AddSet only queues; its errors are about the set's own fields,
	// which are constants here.
	_ = c.AddSet(s4, v4)
	_ = c.AddSet(s6, v6)
	add := func(tag string, exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: exprs, UserData: []byte(tag)})
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	add("own-upstreams",
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(Mark)},
		accept)
	add("loopback",
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")},
		accept)
	for _, p := range dnsPorts {
		add(fmt.Sprintf("dns-udp-%d", p), refuse(unix.IPPROTO_UDP, p)...)
		add(fmt.Sprintf("dns-tcp-%d", p), refuse(unix.IPPROTO_TCP, p)...)
	}
	for _, fam := range []struct {
		tag    string
		proto  byte
		set    *nftables.Set
		offset uint32
		length uint32
	}{{"doh4", unix.NFPROTO_IPV4, s4, 16, 4}, {"doh6", unix.NFPROTO_IPV6, s6, 24, 16}} {
		for _, l4 := range []struct {
			name  string
			proto byte
		}{{"udp", unix.IPPROTO_UDP}, {"tcp", unix.IPPROTO_TCP}} {
			exprs := []expr.Any{
				&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{fam.proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: fam.offset, Len: fam.length},
				&expr.Lookup{SourceRegister: 1, SetName: fam.set.Name, SetID: fam.set.ID},
			}
			add(fam.tag+"-"+l4.name, append(exprs, refuse(l4.proto, httpsPort)...)...)
		}
	}
}

// refuse matches the transport protocol and destination port, counts and
// rejects: a TCP reset, or an ICMP "administratively prohibited".
func refuse(proto byte, port uint16) []expr.Any {
	rej := &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}
	if proto == unix.IPPROTO_TCP {
		rej = &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.Counter{},
		rej,
	}
}

// ifname pads an interface name to IFNAMSIZ, as the kernel compares it.
func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

func (n *nft) Check(ctx context.Context) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening netlink to nftables: %w", err)
	}
	st, why, err := n.inspect(c)
	if err != nil {
		return err
	}
	if st != nftIntact {
		return fmt.Errorf("%w: %s", ErrRemoved, why)
	}
	return nil
}

func (n *nft) Remove(ctx context.Context) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("opening netlink to nftables: %w", err)
	}
	st, _, err := n.inspect(c)
	if err != nil || st == nftAbsent {
		return err
	}
	c.DelTable(n.table())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing the firewall table inet %s: %w", Name, err)
	}
	n.env.Log.Info("firewall layer removed", "table", "inet "+Name)
	return nil
}
