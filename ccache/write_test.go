package ccache_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/keyctl-go/keyctl-go/ccache"
)

// newCache builds a cache from Go values: a config entry, a TGT with
// addresses and a service ticket for another client. The ticket fields are
// opaque DER blobs taken from a golden file, so that klist can print the
// ticket's enctype; the names match the servers inside them.
func newCache(t *testing.T, v ccache.Version) *ccache.File {
	t.Helper()
	_, golden := readMIT(t, filepath.Join("testdata", "mit", "v4-kvno.cc"))
	tgtDER, svcDER := golden.Credentials[1].Ticket, golden.Credentials[2].Ticket

	alice := ccache.Principal{NameType: ccache.NameTypePrincipal, Realm: "TEST.LOCAL", Components: []string{"alice"}}
	carol := ccache.Principal{NameType: ccache.NameTypePrincipal, Realm: "TEST.LOCAL", Components: []string{"carol", "admin"}}
	tgs := ccache.Principal{NameType: ccache.NameTypeSrvInst, Realm: "TEST.LOCAL", Components: []string{"krbtgt", "TEST.LOCAL"}}
	svc := ccache.Principal{NameType: ccache.NameTypeSrvHost, Realm: "TEST.LOCAL", Components: []string{"host", "svc.test.local"}}
	if v == ccache.Version1 {
		alice.NameType, carol.NameType, tgs.NameType, svc.NameType = 0, 0, 0, 0
	}
	const auth = 1800000000 // 2027-01-15
	f := &ccache.File{Version: v, DefaultPrincipal: alice}
	if v == ccache.Version4 {
		f.SetTimeOffset(-3, 250000)
	}
	f.Credentials = []ccache.Credential{
		{
			Client: alice,
			Server: ccache.Principal{NameType: alice.NameType, Realm: ccache.ConfigRealm,
				Components: []string{"krb5_ccache_conf_data", "pa_type", "krbtgt/TEST.LOCAL@TEST.LOCAL"}},
			Ticket: []byte("2"),
		},
		{
			Client: alice, Server: tgs,
			Key:      ccache.Keyblock{EncType: 18, Key: bytes.Repeat([]byte{0x5a}, 32)},
			AuthTime: auth, StartTime: auth, EndTime: auth + 36000, RenewTill: auth + 86400,
			Flags:     ccache.FlagForwardable | ccache.FlagRenewable | ccache.FlagInitial | ccache.FlagPreAuthent,
			Addresses: []ccache.Address{{Type: 2, Data: []byte{127, 0, 0, 1}}},
			Ticket:    tgtDER,
		},
		{
			Client: carol, Server: svc,
			Key:      ccache.Keyblock{EncType: 17, Key: bytes.Repeat([]byte{0xa5}, 16)},
			AuthTime: auth, EndTime: auth + 600,
			Flags:    ccache.FlagProxiable | ccache.FlagOKAsDelegate | ccache.FlagTransitPolicyChecked,
			AuthData: []ccache.AuthData{{Type: 1, Data: []byte{0x30, 0x00}}},
			Ticket:   svcDER,
		},
	}
	return f
}

// TestWriteFromGoValues writes a cache in every version, reads it back with
// Parse, and, when MIT klist is installed, with klist.
func TestWriteFromGoValues(t *testing.T) {
	for v := ccache.Version1; v <= ccache.Version4; v++ {
		t.Run(sprintf("v%d", v), func(t *testing.T) {
			f := newCache(t, v)
			path := filepath.Join(t.TempDir(), "cc")
			if err := ccache.WriteFile(path, f); err != nil {
				t.Fatal(err)
			}
			back, err := ccache.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, f) {
				t.Errorf("read back differs:\n got %+v\nwant %+v", back, f)
			}
			if v == ccache.Version4 {
				if s, us, ok := back.TimeOffset(); !ok || s != -3 || us != 250000 {
					t.Errorf("time offset %d s %d us (%v), want -3 s 250000 us", s, us, ok)
				}
			}
			got, err := parseKlist(runKlist(t, path))
			if err != nil {
				t.Fatal(err)
			}
			compareListing(t, got, expectedListing(f))
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    ccache.File
	}{
		{"version 0", ccache.File{}},
		{"version 5", ccache.File{Version: 5}},
		{"header in version 3", ccache.File{Version: 3, Header: []ccache.HeaderField{{Tag: 1, Value: make([]byte, 8)}}}},
		{"header value too long", ccache.File{Version: 4, Header: []ccache.HeaderField{{Tag: 9, Value: make([]byte, 70000)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.f.Marshal(); err == nil {
				t.Fatal("Marshal succeeded")
			}
		})
	}
}

// TestKeyRedacted checks that formatting never shows key bytes.
func TestKeyRedacted(t *testing.T) {
	k := ccache.Keyblock{EncType: 18, Key: []byte{0xde, 0xad, 0xbe, 0xef}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
		if s := sprintf(verb, k); bytes.Contains([]byte(s), []byte("dead")) || bytes.Contains([]byte(s), []byte("222")) {
			t.Errorf("%s shows the key: %s", verb, s)
		}
	}
}
