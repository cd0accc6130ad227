//go:build linux

package keystore_test

import (
	"context"
	"testing"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// OnChange reports each committed transaction's touched keys, whether the
// graph changed, and its revision; a rolled-back one reports nothing.
func TestOnChangeReportsCommittedChanges(t *testing.T) {
	db, _ := openTemp(t, keystore.Options{})
	var got []keystore.Changes
	db.OnChange(func(c *keystore.Changes) { got = append(got, *c) })

	r := userKey(7)
	putKey(t, db, r, []byte("v1")) // new key: graph
	if err := db.Update(context.Background(), func(tx *keystore.Tx) error {
		if _, err := tx.NextRevision(); err != nil {
			return err
		}
		return tx.PutPayload(r, []byte("v2")) // payload only: not graph
	}); err != nil {
		t.Fatal(err)
	}
	db.Update(context.Background(), func(tx *keystore.Tx) error {
		tx.PutPayload(r, []byte("lost"))
		return errBoom
	})
	if len(got) != 2 {
		t.Fatalf("reported %d transactions, want 2 (the failed one reports nothing): %+v", len(got), got)
	}
	if !got[0].Keys[7] || !got[0].Graph {
		t.Errorf("first: %+v, want key 7 and a graph change", got[0])
	}
	if !got[1].Keys[7] || got[1].Graph || got[1].Revision != 1 {
		t.Errorf("second: %+v, want key 7, no graph change, revision 1", got[1])
	}
}

var errBoom = boom{}

type boom struct{}

func (boom) Error() string { return "boom" }
