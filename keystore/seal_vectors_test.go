//go:build linux

package keystore_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"testing/cryptotest"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// Format version 1 is pinned by files a store of that version holds, in
// testdata/v1. They were made once, by
//
//	go test -run TestVectorsV1 -update
//
// and must never be made again: every store written in format 1 depends
// on them opening. A new format gets a new directory beside them.
var update = flag.Bool("update", false, "write testdata/v1 if missing, and the fuzz seeds derived from it")

const vectorDir = "testdata/v1"

// The vector files. The passphrase KEK and the key file KEK wrap the same
// data key, under which the record is sealed.
const (
	vectorKeyFile          = "key"                   // a key file, KeySize bytes
	vectorWrappedByKeyFile = "wrapped-by-key"        // the data key wrapped by the key file
	vectorParamsHeader     = "argon2id-params"       // Argon2Params header, fastParams' cost
	vectorWrappedByPass    = "wrapped-by-passphrase" // the data key wrapped by the passphrase's KEK
	vectorRecord           = "record"                // vectorPlaintext sealed with vectorBinding
)

const (
	vectorPassphrase = "correct horse battery staple"
	vectorPlaintext  = "keyctl-go keystore, format 1: the quick brown fox jumps over the lazy dog"
	vectorSeed       = 1 // cryptotest.SetGlobalRandom seed the files were made with
)

var vectorBinding = binding(0x12345678, "user")

type vectors struct {
	keyFile, wrappedByKeyFile, paramsHeader, wrappedByPass, record []byte
}

func readVectors(t testing.TB) vectors {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatalf("%v (make the vectors with -update only if format 1 has never shipped)", err)
		}
		return b
	}
	return vectors{
		keyFile:          read(vectorKeyFile),
		wrappedByKeyFile: read(vectorWrappedByKeyFile),
		paramsHeader:     read(vectorParamsHeader),
		wrappedByPass:    read(vectorWrappedByPass),
		record:           read(vectorRecord),
	}
}

// loadVectorKeyFile loads the vector key file from a private copy: git
// keeps no mode but 0644 or 0755, which LoadKeyFile rightly refuses.
func loadVectorKeyFile(t testing.TB, v vectors) *keystore.KEK {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, v.keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	kek, err := keystore.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kek.Wipe)
	return kek
}

// TestVectorsV1 opens what a format-1 store holds, both ways in.
func TestVectorsV1(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	v := readVectors(t)

	t.Run("key file", func(t *testing.T) {
		s, err := loadVectorKeyFile(t, v).UnwrapDataKey(v.wrappedByKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Wipe()
		checkVectorRecord(t, s, v)
	})
	t.Run("passphrase", func(t *testing.T) {
		var p keystore.Argon2Params
		if err := p.UnmarshalBinary(v.paramsHeader); err != nil {
			t.Fatal(err)
		}
		kek, err := keystore.DeriveKEK([]byte(vectorPassphrase), p)
		if err != nil {
			t.Fatal(err)
		}
		defer kek.Wipe()
		s, err := kek.UnwrapDataKey(v.wrappedByPass)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Wipe()
		checkVectorRecord(t, s, v)
	})
}

func checkVectorRecord(t *testing.T, s *keystore.Sealer, v vectors) {
	t.Helper()
	got, err := s.Open(nil, v.record, vectorBinding)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != vectorPlaintext {
		t.Fatalf("record opens to %q, want %q", got, vectorPlaintext)
	}
}

// TestFormatAsDocumented checks the package against refOpen, refUnwrap and
// refParams, which implement the layouts documented on Sealer.Seal,
// KEK.WrapDataKey and Argon2Params.MarshalBinary without the package's
// code. What one side writes, the other must read, so that the
// documentation stays the format.
func TestFormatAsDocumented(t *testing.T) {
	v := readVectors(t)
	dataKey := vectorDataKey(t, v)

	// The vectors themselves, read by the reference.
	if got, ok := refOpen(dataKey, v.record, vectorBinding); !ok || string(got) != vectorPlaintext {
		t.Fatalf("reference cannot open the vector record: %q, %v", got, ok)
	}
	p, ok := refParams(v.paramsHeader)
	if !ok {
		t.Fatal("reference cannot read the vector header")
	}
	passKEK := argon2.IDKey([]byte(vectorPassphrase), p.Salt, p.Time, p.Memory, p.Threads, keystore.KeySize)
	if got, ok := refUnwrap(passKEK, v.wrappedByPass); !ok || !bytes.Equal(got, dataKey) {
		t.Fatal("reference cannot unwrap the data key with the passphrase's Argon2id key")
	}

	// What the package writes now, read by the reference.
	s := newSealerFromKey(t, v.keyFile, dataKey)
	plaintext := []byte("written today")
	if got, ok := refOpen(dataKey, s.Seal(nil, plaintext, vectorBinding), vectorBinding); !ok || !bytes.Equal(got, plaintext) {
		t.Fatalf("reference cannot open a record Seal writes: %q, %v", got, ok)
	}
	kek := loadVectorKeyFile(t, v)
	if got, ok := refUnwrap(v.keyFile, kek.WrapDataKey(s)); !ok || !bytes.Equal(got, dataKey) {
		t.Fatal("reference cannot unwrap a key WrapDataKey writes")
	}
	header, err := fastParams().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := refParams(header); !ok || !equalParams(got, fastParams()) {
		t.Fatalf("reference reads %+v from a header MarshalBinary writes, want %+v", got, fastParams())
	}

	// What the reference writes, read by the package.
	sealed := refSeal(dataKey, plaintext, vectorBinding)
	if got, err := s.Open(nil, sealed, vectorBinding); err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("Open of a reference record = %q, %v", got, err)
	}
	if !bytes.Equal(refMarshalParams(fastParams()), header) {
		t.Fatalf("MarshalBinary = %x, reference %x", header, refMarshalParams(fastParams()))
	}
}

// vectorDataKey unwraps the vector data key by the reference, for tests
// that need to look inside records.
func vectorDataKey(t testing.TB, v vectors) []byte {
	t.Helper()
	dataKey, ok := refUnwrap(v.keyFile, v.wrappedByKeyFile)
	if !ok {
		t.Fatal("reference cannot unwrap the vector data key with the vector key file")
	}
	return dataKey
}

// newSealerFromKey gets a Sealer holding dataKey the only way a caller
// can: by unwrapping it, here from a reference wrap under keyFile.
func newSealerFromKey(t testing.TB, keyFile, dataKey []byte) *keystore.Sealer {
	t.Helper()
	kek := loadVectorKeyFile(t, vectors{keyFile: keyFile})
	s, err := kek.UnwrapDataKey(refWrap(keyFile, dataKey))
	if err != nil {
		t.Fatalf("UnwrapDataKey of a reference wrap: %v", err)
	}
	t.Cleanup(s.Wipe)
	return s
}

// The reference implementation: the documented layouts, written out flat.

var (
	refCRC       = crc32.MakeTable(crc32.Castagnoli)
	refWrapLabel = []byte("keyctl-go/keystore: wrapped data key")
)

func refAEAD(key []byte) interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
} {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err)
	}
	return aead
}

// refNonce is fixed: the reference checks layouts, not randomness.
var refNonce = bytes.Repeat([]byte{0xa5}, 24)

func refSeal(dataKey, plaintext, binding []byte) []byte {
	out := append([]byte{1}, refNonce...)
	return refAEAD(dataKey).Seal(out, refNonce, plaintext, binding)
}

func refOpen(dataKey, sealed, binding []byte) ([]byte, bool) {
	if len(sealed) < 1+24+16 || sealed[0] != 1 {
		return nil, false
	}
	pt, err := refAEAD(dataKey).Open(nil, sealed[1:25], sealed[25:], binding)
	return pt, err == nil
}

func refWrap(kek, dataKey []byte) []byte {
	out := append([]byte{1}, refNonce...)
	out = refAEAD(kek).Seal(out, refNonce, dataKey, refWrapLabel)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, refCRC))
}

func refUnwrap(kek, wrapped []byte) ([]byte, bool) {
	if len(wrapped) != 77 || wrapped[0] != 1 ||
		crc32.Checksum(wrapped[:73], refCRC) != binary.BigEndian.Uint32(wrapped[73:]) {
		return nil, false
	}
	dataKey, err := refAEAD(kek).Open(nil, wrapped[1:25], wrapped[25:73], refWrapLabel)
	return dataKey, err == nil
}

func refMarshalParams(p keystore.Argon2Params) []byte {
	b := []byte{1}
	b = binary.BigEndian.AppendUint32(b, p.Time)
	b = binary.BigEndian.AppendUint32(b, p.Memory)
	b = append(b, p.Threads, byte(len(p.Salt)))
	b = append(b, p.Salt...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, refCRC))
}

// refParams reads a header's fields and checks its layout and checksum,
// but not the limits, which are policy rather than format.
func refParams(b []byte) (keystore.Argon2Params, bool) {
	if len(b) < 11 || b[0] != 1 || len(b) != 15+int(b[10]) ||
		crc32.Checksum(b[:len(b)-4], refCRC) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return keystore.Argon2Params{}, false
	}
	return keystore.Argon2Params{
		Time:    binary.BigEndian.Uint32(b[1:5]),
		Memory:  binary.BigEndian.Uint32(b[5:9]),
		Threads: b[9],
		Salt:    bytes.Clone(b[11 : len(b)-4]),
	}, true
}

func equalParams(a, b keystore.Argon2Params) bool {
	return a.Time == b.Time && a.Memory == b.Memory && a.Threads == b.Threads && bytes.Equal(a.Salt, b.Salt)
}

// writeVectors makes testdata/v1 if it is missing, from a fixed random
// stream so that making it again gives the same bytes, and (re)writes the
// fuzz seeds that derive from it.
func writeVectors(t *testing.T) {
	if _, err := os.Stat(vectorDir); err == nil {
		t.Logf("%s exists and is left alone: a format's vectors never change", vectorDir)
	} else {
		cryptotest.SetGlobalRandom(t, vectorSeed)
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		keyKEK, err := keystore.CreateKeyFile(filepath.Join(vectorDir, vectorKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		defer keyKEK.Wipe()
		p := keystore.NewArgon2Params()
		p.Time, p.Memory, p.Threads = fastParams().Time, fastParams().Memory, fastParams().Threads
		header, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		passKEK, err := keystore.DeriveKEK([]byte(vectorPassphrase), p)
		if err != nil {
			t.Fatal(err)
		}
		defer passKEK.Wipe()
		s := keystore.NewSealer()
		defer s.Wipe()
		writeFile(t, filepath.Join(vectorDir, vectorWrappedByKeyFile), keyKEK.WrapDataKey(s))
		writeFile(t, filepath.Join(vectorDir, vectorParamsHeader), header)
		writeFile(t, filepath.Join(vectorDir, vectorWrappedByPass), passKEK.WrapDataKey(s))
		writeFile(t, filepath.Join(vectorDir, vectorRecord), s.Seal(nil, []byte(vectorPlaintext), vectorBinding))
	}
	writeFuzzSeeds(t, readVectors(t))
}

// writeFuzzSeeds writes the seeds that need real keys or checksums to
// build; f.Add in each fuzz target covers the rest.
func writeFuzzSeeds(t *testing.T, v vectors) {
	flipped := bytes.Clone(v.record)
	flipped[len(flipped)-1] ^= 0x01
	seeds := map[string][]byte{
		"FuzzOpen/valid":        v.record,
		"FuzzOpen/truncated":    v.record[:len(v.record)-1],
		"FuzzOpen/flipped-tag":  flipped,
		"FuzzOpen/version-2":    append([]byte{2}, v.record[1:]...),
		"FuzzOpen/no-plaintext": refSeal(vectorDataKey(t, v), nil, vectorBinding),

		"FuzzUnmarshalParams/valid":        v.paramsHeader,
		"FuzzUnmarshalParams/max-salt":     refMarshalParams(keystore.Argon2Params{Time: 64, Memory: 4 << 20, Threads: 255, Salt: bytes.Repeat([]byte{7}, 64)}),
		"FuzzUnmarshalParams/memory-4GiB+": refMarshalParams(keystore.Argon2Params{Time: 1, Memory: 4<<20 + 1, Threads: 1, Salt: make([]byte, 16)}),
		"FuzzUnmarshalParams/time-0":       refMarshalParams(keystore.Argon2Params{Time: 0, Memory: 64, Threads: 1, Salt: make([]byte, 16)}),
		"FuzzUnmarshalParams/short-salt":   refMarshalParams(keystore.Argon2Params{Time: 1, Memory: 64, Threads: 1, Salt: make([]byte, 15)}),
	}
	for name, b := range seeds {
		path := filepath.Join("testdata/fuzz", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b))
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
