//go:build linux

package parentsession

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// A Record says that a process gave its parent a session keyring.
type Record struct {
	PID   int    // the parent's pid
	Start uint64 // the parent's start time, clock ticks since boot
	// UID and GID were the parent's every real, effective and saved id
	// when the record was made: the recorder's own (Parent).
	UID, GID uint32
	// Recorded is when the record was made: the start time of the
	// process that made it, in the same ticks, which the parent's later
	// children are compared with.
	Recorded uint64
	Session  keyring.Serial
}

// ErrRecordFormat is what a record file that does not read as Put
// writes it is wrapped in.
var ErrRecordFormat = errors.New("parentsession: not a session record")

// recordHeader is a record file's first line, which says what it is.
const recordHeader = "keyctl-go parent session v1"

// marshal writes r as its file holds it; the pid, start time and store
// are in the file's name.
func (r Record) marshal() []byte {
	return fmt.Appendf(nil, "%s\nsession %d\nrecorded %d\nuid %d\ngid %d\n",
		recordHeader, r.Session, r.Recorded, r.UID, r.GID)
}

// parseRecord reads a record file's contents; pid and start come from
// its name.
func parseRecord(b []byte, pid int, start uint64) (Record, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) != 6 || lines[0] != recordHeader || lines[5] != "" {
		return Record{}, ErrRecordFormat
	}
	r := Record{PID: pid, Start: start}
	fields := []struct {
		name string
		bits int
		set  func(uint64)
	}{
		{"session", 31, func(n uint64) { r.Session = keyring.Serial(n) }},
		{"recorded", 64, func(n uint64) { r.Recorded = n }},
		{"uid", 32, func(n uint64) { r.UID = uint32(n) }},
		{"gid", 32, func(n uint64) { r.GID = uint32(n) }},
	}
	for i, f := range fields {
		v, ok := strings.CutPrefix(lines[i+1], f.name+" ")
		if !ok {
			return Record{}, fmt.Errorf("line %d: want %s: %w", i+2, f.name, ErrRecordFormat)
		}
		n, err := strconv.ParseUint(v, 10, f.bits)
		if err != nil {
			return Record{}, fmt.Errorf("line %d: %s %q: %w", i+2, f.name, v, ErrRecordFormat)
		}
		f.set(n)
	}
	if r.Session <= 0 {
		return Record{}, fmt.Errorf("session %d: %w", r.Session, ErrRecordFormat)
	}
	return r, nil
}

// A process is named by its pid and start time, which no later process
// shares.
type procKey struct {
	pid   int
	start uint64
}

// fileName is the name of the record of process k for the store named
// store: "<pid>-<start>-<store tag>". The store is in the name because a
// serial means a keyring of one store only; each store's records are
// found, and swept, by the commands that reach that store.
func fileName(k procKey, store string) string {
	return k.String() + "-" + storeTag(store)
}

func (k procKey) String() string {
	return strconv.Itoa(k.pid) + "-" + strconv.FormatUint(k.start, 10)
}

// storeTag is 96 bits of SHA-256 of the store's name: no two stores of
// one user meet by chance, and the name stays short and free of '/'.
func storeTag(store string) string {
	sum := sha256.Sum256([]byte(store))
	return hex.EncodeToString(sum[:12])
}

// parseFileName reads back what fileName wrote, for the store tag tag;
// false for anything else in the directory (another store's records, a
// record being written).
func parseFileName(name, tag string) (procKey, bool) {
	rest, ok := strings.CutSuffix(name, "-"+tag)
	if !ok {
		return procKey{}, false
	}
	p, s, ok := strings.Cut(rest, "-")
	if !ok {
		return procKey{}, false
	}
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseUint(s, 10, 64)
	k := procKey{pid, start}
	if err1 != nil || err2 != nil || pid <= 0 || k.String() != rest {
		return procKey{}, false // not as fileName writes it: "+1", "01"
	}
	return k, true
}

// An Owner is the process that handed a session down in
// $KEYCTL_GO_SESSION (`keyctl-go session`), named as a record names a
// process; its String is what goes in $KEYCTL_GO_SESSION_OWNER.
type Owner struct {
	PID   int
	Start uint64
}

func (o Owner) String() string {
	return strconv.Itoa(o.PID) + ":" + strconv.FormatUint(o.Start, 10)
}

// ParseOwner reads what Owner.String wrote: "<pid>:<start time>".
func ParseOwner(s string) (Owner, error) {
	p, st, ok := strings.Cut(s, ":")
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseUint(st, 10, 64)
	if !ok || err1 != nil || err2 != nil || pid <= 0 {
		return Owner{}, fmt.Errorf("parentsession: %q is not <pid>:<start time>", s)
	}
	return Owner{PID: pid, Start: start}, nil
}
