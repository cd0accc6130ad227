package ccache_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// klistTime is how klist prints times in the C locale.
const klistTime = "01/02/06 15:04:05"

// klistListing is what `klist -e -f -C -a -n` prints about one cache, reduced to
// the fields this package decodes.
type klistListing struct {
	Default string
	Entries []string
}

// parseKlist reads klist -e -f -C -a -n output into one normalised line per
// entry: "config: KEY(PRINC) = VALUE" for config entries, and
// "START END SERVER [for CLIENT] renew=RENEW flags=FLAGS skey=ETYPE
// addrs=ADDRESSES" for tickets.
func parseKlist(out string) (klistListing, error) {
	var l klistListing
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case trim == "" || strings.HasPrefix(line, "Ticket cache:") || strings.HasPrefix(line, "Valid starting"):
		case strings.HasPrefix(line, "Default principal: "):
			l.Default = strings.TrimPrefix(line, "Default principal: ")
		case strings.HasPrefix(line, "config: "):
			l.Entries = append(l.Entries, line)
		case strings.HasPrefix(line, "\t"):
			if len(l.Entries) == 0 {
				return l, fmt.Errorf("detail line before any ticket: %q", line)
			}
			last := &l.Entries[len(l.Entries)-1]
			for _, seg := range splitDetails(trim) {
				key, val, _ := strings.Cut(seg, ": ")
				switch {
				case strings.HasPrefix(seg, "renew until "):
					*last += " renew=" + strings.TrimPrefix(seg, "renew until ")
				case key == "Flags":
					*last += " flags=" + val
				case key == "Etype (skey, tkt)":
					skey, _, _ := strings.Cut(val, ",")
					*last += " skey=" + skey
				case key == "Ticket server":
					*last += " ticket-server=" + val
				case key == "Addresses":
					*last += " addrs=" + val
				case strings.HasPrefix(seg, "for client "):
					*last += " for " + strings.TrimPrefix(seg, "for client ")
				default:
					return l, fmt.Errorf("unknown detail %q in line %q", seg, line)
				}
			}
		default:
			// "START  END  SERVER"
			f := strings.Fields(line)
			if len(f) != 5 {
				return l, fmt.Errorf("unknown ticket line %q", line)
			}
			l.Entries = append(l.Entries, f[0]+" "+f[1]+" "+f[2]+" "+f[3]+" "+f[4])
		}
	}
	return l, sc.Err()
}

// detailKeys start the items klist puts after a ticket line; it joins them
// with ", " and breaks lines between some of them.
var detailKeys = []string{"renew until ", "Flags: ", "Etype (skey, tkt): ", "Ticket server: ", "Addresses: ", "for client "}

// splitDetails cuts a detail line before each ", KEY".
func splitDetails(line string) []string {
	var segs []string
	for {
		cut := -1
		for _, k := range detailKeys {
			if i := strings.Index(line, ", "+k); i >= 0 && (cut < 0 || i < cut) {
				cut = i
			}
		}
		if cut < 0 {
			return append(segs, line)
		}
		segs = append(segs, line[:cut])
		line = line[cut+2:]
	}
}

// expectedListing is what klist should print for f, derived from the
// decoded fields alone.
func expectedListing(f *ccache.File) klistListing {
	l := klistListing{Default: f.DefaultPrincipal.String()}
	ts := func(t ccache.Timestamp) string { return t.Time().UTC().Format(klistTime) }
	for i := range f.Credentials {
		c := &f.Credentials[i]
		if c.IsRemoved() {
			continue // klist skips removed records
		}
		if key, princ, ok := c.ConfigKey(); ok {
			if princ != "" {
				key += "(" + princ + ")"
			}
			l.Entries = append(l.Entries, "config: "+key+" = "+string(c.Ticket)+" addrs="+addrs(c.Addresses))
			continue
		}
		start := c.StartTime
		if start == 0 {
			start = c.AuthTime
		}
		e := ts(start) + " " + ts(c.EndTime) + " " + c.Server.String()
		if !c.Client.Equal(f.DefaultPrincipal) {
			e += " for " + c.Client.String()
		}
		if c.Flags&ccache.FlagRenewable != 0 && c.RenewTill != 0 {
			e += " renew=" + ts(c.RenewTill)
		}
		e += " flags=" + c.Flags.String() + " skey=" + c.Key.EncType.String() + " addrs=" + addrs(c.Addresses)
		l.Entries = append(l.Entries, e)
	}
	return l
}

// addrs formats addresses as klist -a -n does.
func addrs(as []ccache.Address) string {
	if len(as) == 0 {
		return "(none)"
	}
	var s []string
	for _, a := range as {
		s = append(s, net.IP(a.Data).String())
	}
	return strings.Join(s, ", ")
}

func compareListing(t *testing.T, got, want klistListing) {
	t.Helper()
	if got.Default != want.Default {
		t.Errorf("default principal: klist %q, decoded %q", got.Default, want.Default)
	}
	if strings.Join(got.Entries, "\n") != strings.Join(want.Entries, "\n") {
		t.Errorf("entries differ\nklist:\n\t%s\ndecoded:\n\t%s",
			strings.Join(got.Entries, "\n\t"), strings.Join(want.Entries, "\n\t"))
	}
}

// runKlist runs the installed MIT klist on path, or skips the test.
func runKlist(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("klist")
	if err != nil {
		t.Skip("klist not installed (apt-get install krb5-user); the live MIT cross-check is skipped, the byte round trip still ran")
	}
	cmd := exec.Command(bin, "-c", "FILE:"+path, "-e", "-f", "-C", "-a", "-n")
	// An empty config keeps the host's krb5.conf out; UTC and C locale fix
	// klist's time format.
	cmd.Env = []string{"KRB5_CONFIG=/dev/null", "TZ=UTC", "LC_ALL=C", "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("klist %s: %v\n%s", path, err, out)
	}
	return string(out)
}
