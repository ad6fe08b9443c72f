// Package clientip decides who a request comes from: the client's address and whether it reached the
// edge over HTTPS. Forwarding headers are only believed when the socket peer is a trusted proxy, because
// any client can write them; rate limits, logs and the HTTPS redirect all depend on this one decision.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver extracts the client's identity from requests.
type Resolver struct {
	trusted []netip.Prefix
}

// New returns a Resolver that trusts forwarding headers only from peers inside the given CIDR ranges
// (single addresses are accepted as /32 or /128). With no ranges, the socket peer is always the client.
func New(cidrs []string) (*Resolver, error) {
	r := &Resolver{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if strings.Contains(c, "%") {
			return nil, fmt.Errorf("%q: IPv6 zones are not allowed", c)
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR range or an IP address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r, nil
}

// Client is what the Resolver concluded about a request.
type Client struct {
	IP    netip.Addr // the client's address; invalid only when the peer address itself is unparseable
	HTTPS bool       // the client used HTTPS to reach us or the trusted proxy in front of us
}

// String is the address, or "unknown".
func (c Client) String() string {
	if !c.IP.IsValid() {
		return "unknown"
	}
	return c.IP.String()
}

// Resolve returns the client of r. When the peer is trusted, the hops in Forwarded (RFC 7239) or else
// X-Forwarded-For are read from right to left, skipping trusted proxies; the first untrusted hop is the
// client. A malformed hop ends the walk at the last trusted one, so garbage can never name a client.
func (res *Resolver) Resolve(r *http.Request) Client {
	peer := peerAddr(r.RemoteAddr)
	c := Client{IP: peer, HTTPS: r.TLS != nil}
	if !res.isTrusted(peer) {
		return c
	}
	var hops []hop
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = parseForwarded(fwd)
	} else {
		hops = parseXForwarded(r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Forwarded-Proto"))
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		// The scheme was recorded by a trusted proxy, so it holds even when the address is missing.
		if h.proto != "" {
			c.HTTPS = strings.EqualFold(h.proto, "https")
		}
		if !h.ip.IsValid() {
			break
		}
		c.IP = h.ip
		if !res.isTrusted(h.ip) {
			break
		}
	}
	return c
}

// ViaTrustedProxy reports whether r's socket peer is a trusted proxy, whose other headers (such as a
// request id it assigned) may then be believed too.
func (res *Resolver) ViaTrustedProxy(r *http.Request) bool {
	return res.isTrusted(peerAddr(r.RemoteAddr))
}

func (res *Resolver) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hop is one proxy's record of where it received the request from, and over which scheme.
type hop struct {
	ip    netip.Addr
	proto string
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(remote)
	return a.Unmap()
}

// parseForwarded reads RFC 7239 elements ("for=192.0.2.1;proto=https, for=\"[2001:db8::1]:443\"").
// Elements whose "for" is obfuscated or unknown yield an invalid address, which stops the walk.
func parseForwarded(values []string) []hop {
	var hops []hop
	for _, v := range values {
		for _, element := range strings.Split(v, ",") {
			var h hop
			for _, pair := range strings.Split(element, ";") {
				key, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				val = strings.Trim(val, `"`)
				switch strings.ToLower(key) {
				case "for":
					h.ip = parseNodeAddr(val)
				case "proto":
					h.proto = val
				}
			}
			hops = append(hops, h)
		}
	}
	return hops
}

// parseXForwarded pairs X-Forwarded-For hops with X-Forwarded-Proto values when both list the same
// number of hops; otherwise the last proto value (the nearest proxy's) applies to the nearest hop.
func parseXForwarded(forValues, protoValues []string) []hop {
	var hops []hop
	for _, v := range forValues {
		for _, a := range strings.Split(v, ",") {
			hops = append(hops, hop{ip: parseNodeAddr(strings.TrimSpace(a))})
		}
	}
	var protos []string
	for _, v := range protoValues {
		for _, p := range strings.Split(v, ",") {
			protos = append(protos, strings.TrimSpace(p))
		}
	}
	switch {
	case len(hops) == 0 && len(protos) > 0: // only the scheme is forwarded: it describes the peer's client side
		hops = []hop{{proto: protos[len(protos)-1]}}
	case len(protos) == len(hops):
		for i := range hops {
			hops[i].proto = protos[i]
		}
	case len(protos) > 0 && len(hops) > 0:
		hops[len(hops)-1].proto = protos[len(protos)-1]
	}
	return hops
}

// parseNodeAddr accepts "1.2.3.4", "1.2.3.4:80", "[2001:db8::1]" and "[2001:db8::1]:80".
func parseNodeAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}
