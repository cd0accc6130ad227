//go:build linux

package keystore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// TestDeriveKEK: the same passphrase and parameters give the same KEK at
// the next open, and anything else is a wrong key, not damage.
func TestDeriveKEK(t *testing.T) {
	derive := func(pass string, p keystore.Argon2Params) *keystore.KEK {
		t.Helper()
		kek, err := keystore.DeriveKEK([]byte(pass), p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kek.Wipe)
		return kek
	}
	wrapped := derive("passphrase", fastParams()).WrapDataKey(newSealer(t))

	if _, err := derive("passphrase", fastParams()).UnwrapDataKey(wrapped); err != nil {
		t.Fatalf("same passphrase and parameters: %v", err)
	}
	otherSalt := fastParams()
	otherSalt.Salt = []byte("fedcba9876543210")
	otherTime := fastParams()
	otherTime.Time = 2
	for name, kek := range map[string]*keystore.KEK{
		"wrong passphrase":  derive("passphrasE", fastParams()),
		"longer passphrase": derive("passphrase\n", fastParams()),
		"other salt":        derive("passphrase", otherSalt),
		"other time":        derive("passphrase", otherTime),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kek.UnwrapDataKey(wrapped)
			wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
		})
	}
}

// TestDeriveKEKRejects: bad input is the caller's, so EINVAL, and no
// derivation starts; with memory over the limit it could not finish.
func TestDeriveKEKRejects(t *testing.T) {
	with := func(f func(*keystore.Argon2Params)) keystore.Argon2Params {
		p := fastParams()
		f(&p)
		return p
	}
	tests := []struct {
		name string
		pass []byte
		p    keystore.Argon2Params
	}{
		{"nil passphrase", nil, fastParams()},
		{"empty passphrase", []byte{}, fastParams()},
		{"time 0", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Time = 0 })},
		{"time 65", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Time = 65 })},
		{"threads 0", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Threads = 0 })},
		{"memory under 8 KiB a lane", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Threads, p.Memory = 4, 31 })},
		{"memory over 4 GiB", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Memory = 4<<20 + 1 })},
		{"salt 15 bytes", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Salt = p.Salt[:15] })},
		{"salt 65 bytes", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Salt = make([]byte, 65) })},
		{"no salt", []byte("pw"), with(func(p *keystore.Argon2Params) { p.Salt = nil })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kek, err := keystore.DeriveKEK(tt.pass, tt.p)
			wantErr(t, err, nil, unix.EINVAL)
			if kek != nil {
				t.Error("DeriveKEK returned a KEK with its error")
			}
			if len(tt.pass) > 0 { // the parameters are what is wrong, so they cannot be stored either
				_, err := tt.p.MarshalBinary()
				wantErr(t, err, nil, unix.EINVAL)
			}
		})
	}
}

func TestNewArgon2Params(t *testing.T) {
	a, b := keystore.NewArgon2Params(), keystore.NewArgon2Params()
	// RFC 9106's second recommended option; see passphrase.go.
	if a.Time != 3 || a.Memory != 64<<10 || a.Threads != 4 || len(a.Salt) != 16 {
		t.Errorf("NewArgon2Params = %+v, want t=3, 64 MiB, 4 lanes, 16-byte salt", a)
	}
	if bytes.Equal(a.Salt, b.Salt) {
		t.Error("two NewArgon2Params share a salt")
	}
}

func TestArgon2ParamsRoundTrip(t *testing.T) {
	for _, p := range []keystore.Argon2Params{
		fastParams(),
		keystore.NewArgon2Params(),
		{Time: 64, Memory: 4 << 20, Threads: 255, Salt: bytes.Repeat([]byte{0xff}, 64)},
		{Time: 1, Memory: 8 * 255, Threads: 255, Salt: make([]byte, 16)},
	} {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if len(b) != 15+len(p.Salt) {
			t.Errorf("%+v: header is %d bytes, want %d", p, len(b), 15+len(p.Salt))
		}
		var got keystore.Argon2Params
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if !equalParams(got, p) {
			t.Errorf("round trip gives %+v, want %+v", got, p)
		}
		// The salt is copied out: bbolt reuses the bytes it hands out.
		clear(b)
		if !equalParams(got, p) {
			t.Errorf("clearing the header changed the salt read from it")
		}
	}
}

// header builds a version-1 header with a valid checksum around any
// fields, in or out of the limits.
func header(time, memory uint32, threads uint8, salt []byte) []byte {
	return refMarshalParams(keystore.Argon2Params{Time: time, Memory: memory, Threads: threads, Salt: salt})
}

// TestUnmarshalParamsRejects: absurd parameters read back are corrupt, so
// a planted or damaged header cannot make an open hang or run out of
// memory.
func TestUnmarshalParamsRejects(t *testing.T) {
	salt := make([]byte, 16)
	good := header(1, 64, 1, salt)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	saltLenLies := bytes.Clone(good)
	saltLenLies[10] = 17
	binary.BigEndian.PutUint32(saltLenLies[len(saltLenLies)-4:], crc32.Checksum(saltLenLies[:len(saltLenLies)-4], crc32.MakeTable(crc32.Castagnoli)))

	for _, tt := range []struct {
		name, says string
		b          []byte
	}{
		{"empty", "header is empty", nil},
		{"version 0", "header format version 0 is not supported", append([]byte{0}, good[1:]...)},
		{"version 2", "header format version 2 is not supported", append([]byte{2}, good[1:]...)},
		{"short", "header is 14 bytes, shorter than the 15-byte minimum", good[:14]},
		{"truncated salt", "header is 30 bytes, its 16-byte salt needs 31", good[:30]},
		{"trailing byte", "header is 32 bytes, its 16-byte salt needs 31", append(bytes.Clone(good), 0)},
		{"salt length lies", "header is 31 bytes, its 17-byte salt needs 32", saltLenLies},
		{"time 0", "time is 0 passes", header(0, 64, 1, salt)},
		{"time 65", "time is 65 passes", header(65, 64, 1, salt)},
		{"time max", "time is 4294967295 passes", header(1<<32-1, 64, 1, salt)},
		{"threads 0", "threads is 0", header(1, 64, 0, salt)},
		{"memory 0", "memory is 0 KiB", header(1, 0, 1, salt)},
		{"memory under 8 KiB a lane", "memory is 15 KiB, want 16 KiB", header(1, 15, 2, salt)},
		{"memory 4 GiB + 1 KiB", "memory is 4194305 KiB", header(1, 4<<20+1, 1, salt)},
		{"memory max", "memory is 4294967295 KiB", header(1, 1<<32-1, 1, salt)},
		{"salt 15 bytes", "salt is 15 bytes, want 16..64", header(1, 64, 1, salt[:15])},
		{"salt 65 bytes", "salt is 65 bytes, want 16..64", header(1, 64, 1, make([]byte, 65))},
		{"bad checksum", "header fails its checksum", badCRC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := fastParams()
			err := p.UnmarshalBinary(tt.b)
			wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
			if want := "keystore: corrupt data: argon2 parameters: " + tt.says; !bytes.HasPrefix([]byte(err.Error()), []byte(want)) {
				t.Errorf("err = %q, want it to start %q", err, want)
			}
			if !equalParams(p, fastParams()) {
				t.Errorf("failed UnmarshalBinary changed p to %+v", p)
			}
		})
	}
}

// TestUnmarshalParamsDamaged: every flipped byte and every cut of a header
// reads as damage, never as parameters that would derive another KEK and
// read as a wrong passphrase.
func TestUnmarshalParamsDamaged(t *testing.T) {
	good, err := fastParams().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var p keystore.Argon2Params
	for i := range good {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			damaged := bytes.Clone(good)
			damaged[i] ^= mask
			wantErr(t, p.UnmarshalBinary(damaged), keystore.ErrCorrupt, unix.EBADMSG)
		}
	}
	for n := range len(good) {
		wantErr(t, p.UnmarshalBinary(good[:n]), keystore.ErrCorrupt, unix.EBADMSG)
	}
}

// FuzzUnmarshalParams: any bytes either fail as corrupt, leaving p alone,
// or are the one canonical header of parameters within the limits, as the
// reference reads them.
func FuzzUnmarshalParams(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(header(1, 64, 1, make([]byte, 16)))
	f.Add(header(3, 64<<10, 4, make([]byte, 32)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := fastParams()
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, keystore.ErrCorrupt) || !errors.Is(err, unix.EBADMSG) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if !equalParams(p, fastParams()) {
				t.Fatalf("failed UnmarshalBinary changed p to %+v", p)
			}
			return
		}
		ref, ok := refParams(b)
		if !ok || !equalParams(p, ref) {
			t.Fatalf("UnmarshalBinary read %+v, reference %+v (%v)", p, ref, ok)
		}
		again, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("accepted %+v, which MarshalBinary refuses: %v", p, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("header is not canonical: read %x, writes back %x", b, again)
		}
	})
}

// BenchmarkDeriveKEK is the default cost, paid once per open of a store
// under a passphrase.
func BenchmarkDeriveKEK(b *testing.B) {
	p := keystore.NewArgon2Params()
	b.ReportAllocs()
	for b.Loop() {
		kek, err := keystore.DeriveKEK([]byte("correct horse battery staple"), p)
		if err != nil {
			b.Fatal(err)
		}
		kek.Wipe()
	}
}
