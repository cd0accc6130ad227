//go:build linux

package keystore_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// A store under a key file, the default: created once, then opened.
func Example() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "config", "data.key") // apart from the database

	// Creating the store: a key file, a data key, the data key wrapped.
	kek, err := keystore.CreateKeyFile(keyFile)
	if err != nil {
		log.Fatal(err)
	}
	s := keystore.NewSealer()
	wrapped := kek.WrapDataKey(s) // kept in the store's metadata
	kek.Wipe()

	// Each payload is bound to its key: serial, then type.
	bind := binary.BigEndian.AppendUint32(nil, 0x1a2b3c4d)
	bind = append(bind, "user"...)
	sealed := s.Seal(nil, []byte("s3cret"), bind) // kept in the store's key bucket
	s.Wipe()

	// Opening the store again.
	kek, err = keystore.LoadKeyFile(keyFile)
	if err != nil {
		log.Fatal(err)
	}
	s, err = kek.UnwrapDataKey(wrapped)
	kek.Wipe()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Wipe()
	payload, err := s.Open(nil, sealed, bind)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", payload)
	fmt.Println(s)
	// Output:
	// s3cret
	// [redacted]
}

// A store under a passphrase: the Argon2id header is stored beside the
// wrapped data key, and read back before the passphrase is asked for.
func ExampleDeriveKEK() {
	params := keystore.NewArgon2Params()
	header, err := params.MarshalBinary() // kept in the store's metadata
	if err != nil {
		log.Fatal(err)
	}
	kek, err := keystore.DeriveKEK([]byte("correct horse battery staple"), params)
	if err != nil {
		log.Fatal(err)
	}
	s := keystore.NewSealer()
	wrapped := kek.WrapDataKey(s)
	kek.Wipe()
	s.Wipe()

	// Opening, with a mistyped passphrase.
	var stored keystore.Argon2Params
	if err := stored.UnmarshalBinary(header); err != nil {
		log.Fatal(err)
	}
	kek, err = keystore.DeriveKEK([]byte("correct horse battery stapler"), stored)
	if err != nil {
		log.Fatal(err)
	}
	defer kek.Wipe()
	_, err = kek.UnwrapDataKey(wrapped)
	fmt.Println(err)
	fmt.Println(errors.Is(err, keystore.ErrWrongKey), errors.Is(err, unix.EKEYREJECTED))
	// Output:
	// keystore: wrong passphrase or key file: it does not unwrap the data key
	// true true
}
