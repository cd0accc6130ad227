//go:build linux

package kcm_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/keyctl-go/keyctl-go/kcm"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// A KCM server on a store of its own. MIT's tools reach it with, in
// krb5.conf's [libdefaults]:
//
//	default_ccache_name = KCM:
//	kcm_socket = /path/to/kcm.sock
//
// Here a client asks, as klist -l does first, for the caller's caches:
// there are none yet.
func Example() {
	dir, err := os.MkdirTemp("", "kcm-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := keyring.Open(filepath.Join(dir, "keys.db"), keyring.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	// A server of this user's alone: its socket 0600, and anyone else
	// hung up on.
	ln, err := kcm.Listen(filepath.Join(dir, "kcm.sock"), true)
	if err != nil {
		log.Fatal(err)
	}
	srv := kcm.NewServer(store, kcm.Options{Private: true})
	go srv.Serve(ln)
	defer srv.Close()

	c, err := net.Dial("unix", filepath.Join(dir, "kcm.sock"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(kcm.AppendRequest(nil, kcm.OpGetCacheUUIDList, nil)); err != nil {
		log.Fatal(err)
	}
	reply := make([]byte, 12) // length, status, the operation's code
	if _, err := io.ReadFull(c, reply); err != nil {
		log.Fatal(err)
	}
	fmt.Println(kcm.Code(int32(binary.BigEndian.Uint32(reply[8:]))))
	// Output: kcm: KRB5_FCC_NOFILE
}
