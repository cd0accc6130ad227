//go:build linux

package keystore_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

func TestSealOpen(t *testing.T) {
	s := newSealer(t)
	bind := binding(42, "user")
	for _, n := range []int{0, 1, 64, 4 << 10, 1 << 20} {
		plaintext := bytes.Repeat([]byte{'p'}, n)
		sealed := s.Seal(nil, plaintext, bind)
		if len(sealed) != n+keystore.SealOverhead {
			t.Errorf("%d-byte payload seals to %d bytes, want %d", n, len(sealed), n+keystore.SealOverhead)
		}
		got, err := s.Open(nil, sealed, bind)
		if err != nil {
			t.Fatalf("%d-byte payload: %v", n, err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Errorf("%d-byte payload opens to %d other bytes", n, len(got))
		}
	}
}

// TestSealOpenAppend checks that Seal and Open append to dst, as
// cipher.AEAD does, leaving what dst held.
func TestSealOpenAppend(t *testing.T) {
	s := newSealer(t)
	bind := binding(42, "user")
	sealed := s.Seal([]byte("head:"), []byte("payload"), bind)
	if !bytes.HasPrefix(sealed, []byte("head:")) {
		t.Fatalf("Seal dropped dst: %q", sealed)
	}
	got, err := s.Open([]byte("head:"), sealed[len("head:"):], bind)
	if err != nil || string(got) != "head:payload" {
		t.Fatalf("Open = %q, %v; want %q", got, err, "head:payload")
	}
}

// TestOpenMoved checks that a record opens only on the key it was sealed
// for: another serial, another type, or another store's data key fail.
func TestOpenMoved(t *testing.T) {
	s := newSealer(t)
	sealed := s.Seal(nil, []byte("payload"), binding(42, "user"))
	other := newSealer(t)
	for _, tt := range []struct {
		name    string
		s       *keystore.Sealer
		binding []byte
	}{
		{"other serial", s, binding(43, "user")},
		{"other type", s, binding(42, "logon")},
		{"longer binding", s, append(binding(42, "user"), 0)},
		{"shorter binding", s, binding(42, "use")},
		{"other store", other, binding(42, "user")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Open(nil, sealed, tt.binding)
			wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
			if got != nil {
				t.Errorf("Open returned %q with its error", got)
			}
		})
	}
}

// TestOpenEveryByteFlip flips each byte of a record, in a few ways, and
// wants each to fail without plaintext.
func TestOpenEveryByteFlip(t *testing.T) {
	s := newSealer(t)
	bind := binding(42, "user")
	sealed := s.Seal(nil, []byte("a payload of some length, to flip bytes in"), bind)
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			damaged := bytes.Clone(sealed)
			damaged[i] ^= mask
			got, err := s.Open(nil, damaged, bind)
			if err == nil || got != nil {
				t.Fatalf("byte %d ^ %#x: Open = %q, %v; want ErrCorrupt and nothing", i, mask, got, err)
			}
			wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
		}
	}
}

// TestOpenEveryTruncation cuts a record at every length, and extends it.
func TestOpenEveryTruncation(t *testing.T) {
	s := newSealer(t)
	bind := binding(42, "user")
	sealed := s.Seal(nil, []byte("a payload of some length, to cut"), bind)
	for n := range len(sealed) {
		got, err := s.Open(nil, sealed[:n], bind)
		if got != nil {
			t.Fatalf("cut to %d bytes: Open returned %q", n, got)
		}
		wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	}
	_, err := s.Open(nil, append(bytes.Clone(sealed), 0), bind)
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
}

// TestOpenErrorsSayWhy checks the detail after the sentinel, which is what
// a user reading the error sees.
func TestOpenErrorsSayWhy(t *testing.T) {
	s := newSealer(t)
	bind := binding(42, "user")
	sealed := s.Seal(nil, []byte("payload"), bind)
	for _, tt := range []struct {
		name   string
		sealed []byte
		want   string
	}{
		{"empty", nil, "keystore: corrupt data: record is empty"},
		{"version", append([]byte{9}, sealed[1:]...), "keystore: corrupt data: record format version 9 is not supported"},
		{"short", sealed[:40], "keystore: corrupt data: record is 40 bytes, shorter than the 41-byte minimum"},
		{"forged", append([]byte{1}, make([]byte, 50)...), "keystore: corrupt data: record failed authentication: damaged, altered, or sealed for another key"},
	} {
		_, err := s.Open(nil, tt.sealed, bind)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestSealHidesPlaintext looks for any 8 bytes of the plaintext in the
// record, not only the whole of it.
func TestSealHidesPlaintext(t *testing.T) {
	s := newSealer(t)
	plaintext := []byte(strings.Repeat("hunter2 is my password; ", 100))
	sealed := s.Seal(nil, plaintext, binding(42, "user"))
	for i := 0; i+8 <= len(plaintext); i++ {
		if bytes.Contains(sealed, plaintext[i:i+8]) {
			t.Fatalf("record contains plaintext bytes %d..%d: %q", i, i+8, plaintext[i:i+8])
		}
	}
}

// TestSealTwiceDiffers: the same payload sealed twice for the same key
// shares no nonce and no ciphertext, so records cannot be compared.
func TestSealTwiceDiffers(t *testing.T) {
	s := newSealer(t)
	plaintext, bind := []byte("the same payload"), binding(42, "user")
	a, b := s.Seal(nil, plaintext, bind), s.Seal(nil, plaintext, bind)
	const nonceEnd = 1 + chacha20poly1305.NonceSizeX
	if bytes.Equal(a[1:nonceEnd], b[1:nonceEnd]) {
		t.Errorf("two seals share nonce %x", a[1:nonceEnd])
	}
	if bytes.Equal(a[nonceEnd:], b[nonceEnd:]) {
		t.Errorf("two seals share ciphertext %x", a[nonceEnd:])
	}
}

// TestSealerMisuse: caller bugs panic rather than seal something that
// would open too widely or under a wiped key.
func TestSealerMisuse(t *testing.T) {
	s := newSealer(t)
	sealed := s.Seal(nil, []byte("payload"), binding(1, "user"))
	mustPanic(t, "Seal, nil binding", func() { s.Seal(nil, []byte("payload"), nil) })
	mustPanic(t, "Open, empty binding", func() { s.Open(nil, sealed, []byte{}) })

	wiped := keystore.NewSealer()
	wiped.Wipe()
	wiped.Wipe() // twice is harmless
	mustPanic(t, "Seal after Wipe", func() { wiped.Seal(nil, []byte("payload"), binding(1, "user")) })
	mustPanic(t, "Open after Wipe", func() { wiped.Open(nil, sealed, binding(1, "user")) })

	var zero keystore.Sealer
	mustPanic(t, "Seal on a zero Sealer", func() { zero.Seal(nil, []byte("payload"), binding(1, "user")) })
}

// TestSealerConcurrent runs under -race in CI: one Sealer, many goroutines.
func TestSealerConcurrent(t *testing.T) {
	s := newSealer(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			bind := binding(uint32(g), "user")
			var buf, out []byte
			for i := range 200 {
				plaintext := []byte{byte(g), byte(i)}
				buf = s.Seal(buf[:0], plaintext, bind)
				var err error
				out, err = s.Open(out[:0], buf, bind)
				if err != nil || !bytes.Equal(out, plaintext) {
					t.Errorf("goroutine %d, round %d: Open = %x, %v", g, i, out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzOpen gives Open arbitrary records under the vector data key and
// holds it to the reference implementation: it must succeed exactly when
// the reference does, with the same plaintext, and otherwise fail with
// ErrCorrupt and nothing else. Success on anything but a real seal would
// be a forgery of Poly1305.
func FuzzOpen(f *testing.F) {
	v := readVectors(f)
	dataKey := vectorDataKey(f, v)
	s := newSealerFromKey(f, v.keyFile, dataKey)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(make([]byte, keystore.SealOverhead))
	f.Add(v.record)
	f.Fuzz(func(t *testing.T, sealed []byte) {
		got, err := s.Open(nil, sealed, vectorBinding)
		want, ok := refOpen(dataKey, sealed, vectorBinding)
		switch {
		case ok && err != nil:
			t.Fatalf("Open failed on a valid record: %v", err)
		case ok && !bytes.Equal(got, want):
			t.Fatalf("Open = %q, reference %q", got, want)
		case !ok && err == nil:
			t.Fatalf("Open accepted a record the reference rejects, giving %q", got)
		case !ok && (got != nil || !errors.Is(err, keystore.ErrCorrupt) || !errors.Is(err, unix.EBADMSG)):
			t.Fatalf("Open = %q, %v; want nothing and ErrCorrupt", got, err)
		}
	})
}

// Benchmarks. BenchmarkRawXChaCha20Poly1305 is the bare AEAD call on the
// same sizes, with a fixed nonce: the gap to BenchmarkSeal is this
// package's cost per record, mostly drawing the random nonce.

var benchSizes = []struct {
	name string
	n    int
}{
	{"64B", 64},
	{"4KiB", 4 << 10},
}

var benchBinding = binding(0x12345678, "user")

func BenchmarkSeal(b *testing.B) {
	s := newSealer(b)
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			plaintext := make([]byte, size.n)
			buf := make([]byte, 0, size.n+keystore.SealOverhead)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = s.Seal(buf[:0], plaintext, benchBinding)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newSealer(b)
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			sealed := s.Seal(nil, make([]byte, size.n), benchBinding)
			buf := make([]byte, 0, size.n)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = s.Open(buf[:0], sealed, benchBinding); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawXChaCha20Poly1305(b *testing.B) {
	aead, err := chacha20poly1305.NewX(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	for _, size := range benchSizes {
		b.Run("Seal/"+size.name, func(b *testing.B) {
			plaintext := make([]byte, size.n)
			buf := make([]byte, 0, size.n+chacha20poly1305.Overhead)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				buf = aead.Seal(buf[:0], nonce, plaintext, benchBinding)
			}
		})
		b.Run("Open/"+size.name, func(b *testing.B) {
			sealed := aead.Seal(nil, nonce, make([]byte, size.n), benchBinding)
			buf := make([]byte, 0, size.n)
			b.SetBytes(int64(size.n))
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = aead.Open(buf[:0], nonce, sealed, benchBinding); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
