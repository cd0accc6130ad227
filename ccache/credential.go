package ccache

import (
	"fmt"
	"strings"
	"time"
)

// Realms that mark configuration entries.
const (
	// ConfigRealm is the server realm of a configuration entry.
	ConfigRealm = "X-CACHECONF:"
	// RemovedConfigRealm is what MIT writes over ConfigRealm when it removes
	// a configuration entry in place.
	RemovedConfigRealm = "X-RMED-CONF:"
	// configPrefix is the first server component of a configuration entry.
	configPrefix = "krb5_ccache_conf_data"
)

// Credential is one record of a cache: a ticket with its session key, or a
// configuration entry, or a record marked as removed.
type Credential struct {
	Client       Principal
	Server       Principal
	Key          Keyblock
	AuthTime     Timestamp
	StartTime    Timestamp
	EndTime      Timestamp
	RenewTill    Timestamp
	IsSKey       uint8 // 1 if the ticket is encrypted in another ticket's session key; kept as stored
	Flags        TicketFlags
	Addresses    []Address
	AuthData     []AuthData
	Ticket       []byte // the DER Ticket; a configuration entry's value
	SecondTicket []byte
}

// IsConfig reports whether c is a configuration entry: its server realm is
// "X-CACHECONF:". klist hides these unless given -C; copies must keep them.
func (c *Credential) IsConfig() bool { return c.Server.Realm == ConfigRealm }

// ConfigKey returns the key name of a configuration entry (such as
// "fast_avail") and the principal it refers to as text, which is empty when
// the entry names none. ok is false if c is not a well-formed entry.
func (c *Credential) ConfigKey() (key, principal string, ok bool) {
	s := c.Server.Components
	if !c.IsConfig() || len(s) < 2 || len(s) > 3 || s[0] != configPrefix {
		return "", "", false
	}
	if len(s) == 3 {
		principal = s[2]
	}
	return s[1], principal, true
}

// IsRemoved reports whether c was marked as removed in place: its endtime
// is 0 and its authtime is not. That covers MIT's marking (authtime
// 0xffffffff, and "X-RMED-CONF:" for configuration entries) and Heimdal's.
// MIT readers skip such records; copies should keep them to stay
// byte-exact.
func (c *Credential) IsRemoved() bool {
	return (c.EndTime == 0 && c.AuthTime != 0) || c.Server.Realm == RemovedConfigRealm
}

// Keyblock is a session key with its encryption type.
type Keyblock struct {
	EncType EncType
	Key     Key

	// v3Second is the second enctype of a version 3 record when it
	// differed from EncType, so that it is written back unchanged.
	v3Second    EncType
	v3SecondSet bool
}

// Key is secret key material. It redacts itself when formatted.
type Key []byte

// String returns a placeholder with the key's length, never its bytes.
func (k Key) String() string { return fmt.Sprintf("[%d key bytes redacted]", len(k)) }

// GoString is like String, so %#v does not print the bytes either.
func (k Key) GoString() string { return k.String() }

// Format makes every verb (%x and %v included) print the placeholder.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// EncType is a Kerberos encryption type number. The format stores it as a
// signed 16-bit value.
type EncType int16

var encTypeNames = map[EncType]string{
	1:  "des-cbc-crc",
	3:  "des-cbc-md5",
	16: "des3-cbc-sha1",
	17: "aes128-cts-hmac-sha1-96",
	18: "aes256-cts-hmac-sha1-96",
	19: "aes128-cts-hmac-sha256-128",
	20: "aes256-cts-hmac-sha384-192",
	23: "arcfour-hmac",
	24: "arcfour-hmac-exp",
	25: "camellia128-cts-cmac",
	26: "camellia256-cts-cmac",
}

// String returns the name klist -e prints, or "etype N" for numbers it has
// no name for.
func (e EncType) String() string {
	if n, ok := encTypeNames[e]; ok {
		return n
	}
	return fmt.Sprintf("etype %d", int16(e))
}

// Timestamp is a time in seconds since the Unix epoch. MIT treats the 32
// bits as unsigned, so it is good until 2106.
type Timestamp uint32

// Time returns t as a time.Time; zero stays the zero time.Time.
func (t Timestamp) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0)
}

// TicketFlags are the Kerberos ticket flags, bit 0 (reserved) being the most
// significant bit.
type TicketFlags uint32

// Ticket flags, RFC 4120 section 5.3 and RFC 6806.
const (
	FlagForwardable          TicketFlags = 0x40000000
	FlagForwarded            TicketFlags = 0x20000000
	FlagProxiable            TicketFlags = 0x10000000
	FlagProxy                TicketFlags = 0x08000000
	FlagMayPostdate          TicketFlags = 0x04000000
	FlagPostdated            TicketFlags = 0x02000000
	FlagInvalid              TicketFlags = 0x01000000
	FlagRenewable            TicketFlags = 0x00800000
	FlagInitial              TicketFlags = 0x00400000
	FlagPreAuthent           TicketFlags = 0x00200000
	FlagHWAuthent            TicketFlags = 0x00100000
	FlagTransitPolicyChecked TicketFlags = 0x00080000
	FlagOKAsDelegate         TicketFlags = 0x00040000
	FlagEncPARep             TicketFlags = 0x00010000
	FlagAnonymous            TicketFlags = 0x00008000
)

// flagLetters is klist -f's alphabet, in the order klist prints it.
var flagLetters = []struct {
	flag   TicketFlags
	letter byte
}{
	{FlagForwardable, 'F'}, {FlagForwarded, 'f'}, {FlagProxiable, 'P'},
	{FlagProxy, 'p'}, {FlagMayPostdate, 'D'}, {FlagPostdated, 'd'},
	{FlagInvalid, 'i'}, {FlagRenewable, 'R'}, {FlagInitial, 'I'},
	{FlagHWAuthent, 'H'}, {FlagPreAuthent, 'A'},
	{FlagTransitPolicyChecked, 'T'}, {FlagOKAsDelegate, 'O'},
	{FlagAnonymous, 'a'},
}

// String returns the flags in klist -f's letters (e.g. "FRIA"); flags
// without a letter, such as enc-pa-rep, are not shown.
func (f TicketFlags) String() string {
	var b strings.Builder
	for _, l := range flagLetters {
		if f&l.flag != 0 {
			b.WriteByte(l.letter)
		}
	}
	return b.String()
}

// Address is a host address bound into a ticket.
type Address struct {
	Type uint16 // address type: 2 for IPv4, 24 for IPv6
	Data []byte
}

// AuthData is one authorization-data element.
type AuthData struct {
	Type int16 // ad-type; MIT reads it as signed
	Data []byte
}
