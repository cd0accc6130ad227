//go:build linux

package watchqueue_test

import (
	"fmt"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A queue of 32 notes takes 40 posts: the last 8 are lost, and the reader
// learns so from one loss record after the last record that made it.
func Example() {
	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	if err := q.SetSize(32); err != nil {
		panic(err)
	}
	for id := range uint32(40) {
		rec := watchqueue.KeyNotification{Subtype: watchqueue.KeyUpdated, KeyID: id}.AppendBinary(nil, false)
		q.Post(rec, 1, 0)
	}

	buf := make([]byte, watchqueue.ReadBufferSize)
	for {
		n, err := q.TryRead(buf) // EAGAIN once nothing is left
		if err != nil {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			rec, size, _ := watchqueue.Decode(b, false)
			b = b[size:]
			switch r := rec.(type) {
			case watchqueue.KeyNotification:
				if r.KeyID == 0 || r.KeyID == 31 {
					fmt.Println(r.KeyID, r.Subtype)
				}
			case watchqueue.Loss:
				fmt.Println("-- LOSS --")
			}
		}
	}
	fmt.Println("lost:", q.Lost())
	// Output:
	// 0 upd
	// 31 upd
	// -- LOSS --
	// lost: 8
}
