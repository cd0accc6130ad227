//go:build linux

package keystore_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// TestWrapUnwrap is a store's life: created under a key file, closed, and
// opened again with the same key file.
func TestWrapUnwrap(t *testing.T) {
	kek, path, _ := newKeyFile(t)
	s := newSealer(t)
	wrapped := kek.WrapDataKey(s)
	if len(wrapped) != keystore.WrappedKeySize {
		t.Fatalf("wrapped key is %d bytes, want %d", len(wrapped), keystore.WrappedKeySize)
	}
	if bytes.Equal(wrapped, kek.WrapDataKey(s)) {
		t.Error("wrapping twice gives the same bytes: the nonce is not random")
	}
	sealed := s.Seal(nil, []byte("payload"), binding(7, "user"))

	reloaded, err := keystore.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reloaded.Wipe()
	opened, err := reloaded.UnwrapDataKey(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Wipe()
	got, err := opened.Open(nil, sealed, binding(7, "user"))
	if err != nil || string(got) != "payload" {
		t.Fatalf("Open after unwrap = %q, %v", got, err)
	}
}

func TestUnwrapWrongKeyFile(t *testing.T) {
	kek, _, _ := newKeyFile(t)
	other, _, _ := newKeyFile(t)
	wrapped := kek.WrapDataKey(newSealer(t))
	s, err := other.UnwrapDataKey(wrapped)
	wantErr(t, err, keystore.ErrWrongKey, unix.EKEYREJECTED)
	if s != nil {
		t.Error("UnwrapDataKey returned a Sealer with its error")
	}
	if want := "keystore: wrong passphrase or key file: it does not unwrap the data key"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// TestUnwrapDamaged: damage to a wrapped key reads as damage, never as a
// wrong key, so a user is not sent hunting for another passphrase.
func TestUnwrapDamaged(t *testing.T) {
	kek, _, _ := newKeyFile(t)
	wrapped := kek.WrapDataKey(newSealer(t))
	for i := range wrapped {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			damaged := bytes.Clone(wrapped)
			damaged[i] ^= mask
			_, err := kek.UnwrapDataKey(damaged)
			wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
		}
	}
	for n := range len(wrapped) {
		_, err := kek.UnwrapDataKey(wrapped[:n])
		wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
	}
	_, err := kek.UnwrapDataKey(append(bytes.Clone(wrapped), 0))
	wantErr(t, err, keystore.ErrCorrupt, unix.EBADMSG)
}

// TestRewrap moves a store from a key file to a passphrase: the data key
// is wrapped anew, and records sealed before open after.
func TestRewrap(t *testing.T) {
	fileKEK, _, _ := newKeyFile(t)
	s := newSealer(t)
	wrappedByFile := fileKEK.WrapDataKey(s)
	sealed := s.Seal(nil, []byte("payload"), binding(7, "user"))

	opened, err := fileKEK.UnwrapDataKey(wrappedByFile)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Wipe()
	passKEK, err := keystore.DeriveKEK([]byte("new passphrase"), fastParams())
	if err != nil {
		t.Fatal(err)
	}
	defer passKEK.Wipe()
	wrappedByPass := passKEK.WrapDataKey(opened)

	again, err := passKEK.UnwrapDataKey(wrappedByPass)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Wipe()
	if got, err := again.Open(nil, sealed, binding(7, "user")); err != nil || string(got) != "payload" {
		t.Fatalf("Open after rewrap = %q, %v", got, err)
	}
}

// TestWrappedKeyHidesKeys looks for the key file and the data key in the
// wrapped key, using the vectors, whose data key is known.
func TestWrappedKeyHidesKeys(t *testing.T) {
	v := readVectors(t)
	dataKey := vectorDataKey(t, v)
	wrapped := loadVectorKeyFile(t, v).WrapDataKey(newSealerFromKey(t, v.keyFile, dataKey))
	for name, secret := range map[string][]byte{"data key": dataKey, "key file": v.keyFile} {
		for i := 0; i+8 <= len(secret); i++ {
			if bytes.Contains(wrapped, secret[i:i+8]) {
				t.Errorf("wrapped key contains bytes %d..%d of the %s", i, i+8, name)
			}
		}
	}
}

func TestKEKMisuse(t *testing.T) {
	kek, _, _ := newKeyFile(t)
	wrapped := kek.WrapDataKey(newSealer(t))

	wipedSealer := keystore.NewSealer()
	wipedSealer.Wipe()
	mustPanic(t, "wrap a wiped Sealer", func() { kek.WrapDataKey(wipedSealer) })

	kek.Wipe()
	mustPanic(t, "WrapDataKey after Wipe", func() { kek.WrapDataKey(newSealer(t)) })
	mustPanic(t, "UnwrapDataKey after Wipe", func() { kek.UnwrapDataKey(wrapped) })
	var zero keystore.KEK
	mustPanic(t, "UnwrapDataKey on a zero KEK", func() { zero.UnwrapDataKey(wrapped) })
}

// TestRedaction prints key holders every way a program might, and looks
// for the key bytes in the output. The vector keys are known, so their
// bytes can be looked for.
func TestRedaction(t *testing.T) {
	v := readVectors(t)
	dataKey := vectorDataKey(t, v)
	kek := loadVectorKeyFile(t, v)
	s := newSealerFromKey(t, v.keyFile, dataKey)

	// A struct holding them by value in unexported fields is printed by
	// reflection, where their methods cannot be called.
	type holder struct {
		kek    keystore.KEK
		sealer keystore.Sealer
	}
	values := map[string]struct {
		val      any
		redacted bool // prints as [redacted], rather than as addresses
	}{
		"*KEK":    {kek, true},
		"KEK":     {*kek, true},
		"*Sealer": {s, true},
		"Sealer":  {*s, true},
		"holder":  {holder{*kek, *s}, false},
		"&holder": {&holder{*kek, *s}, false},
	}
	secrets := map[string][]byte{"key file": v.keyFile, "data key": dataKey}

	for name, tt := range values {
		val := tt.val
		var outputs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%b"} {
			outputs = append(outputs, fmt.Sprintf(verb, val))
		}
		outputs = append(outputs, fmt.Sprint(val), fmt.Sprintln(val))
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("m", "k", val)
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("m", "k", val)
		outputs = append(outputs, logged.String())
		j, _ := json.Marshal(val)
		outputs = append(outputs, string(j))

		for _, out := range outputs {
			for sname, secret := range secrets {
				if leaks(out, secret) {
					t.Errorf("%s printed as %q shows the %s", name, out, sname)
				}
			}
			if tt.redacted && !strings.Contains(out, "[redacted]") && out != "{}" { // {}: encoding/json
				t.Errorf("%s printed as %q, want [redacted]", name, out)
			}
		}
	}
	for name, got := range map[string]string{
		"KEK.String":      kek.String(),
		"KEK.GoString":    kek.GoString(),
		"Sealer.String":   s.String(),
		"Sealer.GoString": s.GoString(),
	} {
		if got != "[redacted]" {
			t.Errorf("%s() = %q, want [redacted]", name, got)
		}
	}
}

// leaks reports whether out shows any 4 bytes of secret in a form fmt can
// print bytes in: raw, hex, or a list of decimal numbers.
func leaks(out string, secret []byte) bool {
	lower := strings.ToLower(out)
	for i := 0; i+4 <= len(secret); i++ {
		w := secret[i : i+4]
		if strings.Contains(out, string(w)) || strings.Contains(lower, hex.EncodeToString(w)) ||
			strings.Contains(out, fmt.Sprintf("%d %d %d %d", w[0], w[1], w[2], w[3])) ||
			strings.Contains(out, fmt.Sprintf("%d, %d, %d, %d", w[0], w[1], w[2], w[3])) ||
			strings.Contains(lower, fmt.Sprintf("%#x, %#x, %#x, %#x", w[0], w[1], w[2], w[3])) {
			return true
		}
	}
	return false
}
