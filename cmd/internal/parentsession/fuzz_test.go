//go:build linux

package parentsession

import (
	"errors"
	"testing"
)

// The seeds are also in testdata/fuzz; these say what each stands for.

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (bash) S 4200 4242 4242 34816 4242 4194560 1 2 3 4 5 6 7 8 20 0 1 0 1271300 9 10\n"))
	f.Add([]byte("7 (a) b) (c) S 1 7 7 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 3 0 99 0 0"))
	f.Add([]byte("1 (init S 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseStat(b)
		if err != nil {
			if !errors.Is(err, ErrProcFormat) {
				t.Fatalf("parseStat: %v does not wrap ErrProcFormat", err)
			}
			return
		}
		if p.PID <= 0 || p.PPID < 0 || p.Threads < 0 {
			t.Fatalf("parseStat(%q) = %+v", b, p)
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"))
	f.Add([]byte("Uid:\t1000\t0\t0\t0\nGid:\t1000\n"))
	f.Add([]byte("Uid: 1 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := parseStatus(b); err != nil && !errors.Is(err, ErrProcFormat) {
			t.Fatalf("parseStatus: %v does not wrap ErrProcFormat", err)
		}
	})
}

// A record read back is the record written.
func FuzzParseRecord(f *testing.F) {
	f.Add(Record{Session: 509344495, Recorded: 1271309, UID: 1000, GID: 1000}.marshal())
	f.Add([]byte(recordHeader + "\nsession +5\nrecorded 1\nuid 0\ngid 0\n"))
	f.Add([]byte(recordHeader + "\nsession 0\nrecorded 1\nuid 0\ngid 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b, 1, 2)
		if err != nil {
			if !errors.Is(err, ErrRecordFormat) {
				t.Fatalf("parseRecord: %v does not wrap ErrRecordFormat", err)
			}
			return
		}
		if r.Session <= 0 {
			t.Fatalf("parseRecord(%q): session %d", b, r.Session)
		}
		again, err := parseRecord(r.marshal(), 1, 2)
		if err != nil || again != r {
			t.Fatalf("parseRecord(%q) = %+v, written and read again %+v, %v", b, r, again, err)
		}
	})
}

// Names and owners read back as written; nothing else reads as one.
func FuzzParseNames(f *testing.F) {
	f.Add("4242-1271300-" + storeTag(""))
	f.Add("4242:1271300")
	f.Add("+1-01-" + storeTag(""))
	f.Fuzz(func(t *testing.T, s string) {
		if k, ok := parseFileName(s, storeTag("")); ok && fileName(k, "") != s {
			t.Fatalf("parseFileName(%q) = %v, which is named %q", s, k, fileName(k, ""))
		}
		if o, err := ParseOwner(s); err == nil {
			if o.PID <= 0 {
				t.Fatalf("ParseOwner(%q) = %+v", s, o)
			}
			if again, err := ParseOwner(o.String()); err != nil || again != o {
				t.Fatalf("ParseOwner(%q) = %+v, read again %+v, %v", s, o, again, err)
			}
		}
	})
}
