//go:build linux

package watchqueue_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// keyRec is a 16-byte key record with tag 0, as a poster builds it.
func keyRec(sub watchqueue.KeySubtype, id, aux uint32) []byte {
	return watchqueue.KeyNotification{Subtype: sub, KeyID: id, Aux: aux}.AppendBinary(nil, false)
}

// sized returns a queue sized to notes, closed when the test ends.
func sized(t testing.TB, notes int, opts watchqueue.Options) *watchqueue.Queue {
	t.Helper()
	q := watchqueue.New(opts)
	if err := q.SetSize(notes); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// drain reads everything queued, in reads of bufSize, and decodes it.
func drain(t testing.TB, q *watchqueue.Queue, bufSize int) []watchqueue.Record {
	t.Helper()
	var recs []watchqueue.Record
	buf := make([]byte, bufSize)
	for {
		n, err := q.TryRead(buf)
		if errors.Is(err, unix.EAGAIN) {
			return recs
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		recs = append(recs, decodeAll(t, buf[:n], q.Revisions())...)
	}
}

func decodeAll(t testing.TB, b []byte, revisions bool) []watchqueue.Record {
	t.Helper()
	var recs []watchqueue.Record
	for len(b) > 0 {
		r, n, err := watchqueue.Decode(b, revisions)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		recs = append(recs, r)
		b = b[n:]
	}
	return recs
}

func TestSetSize(t *testing.T) {
	for _, tc := range []struct {
		notes   int
		wantErr error
		wantCap int
	}{
		{notes: 0, wantErr: unix.EINVAL},
		{notes: -1, wantErr: unix.EINVAL},
		{notes: 513, wantErr: unix.EINVAL},
		{notes: 1, wantCap: 32},
		{notes: 32, wantCap: 32},
		{notes: 33, wantCap: 64},
		{notes: 256, wantCap: 256},
		{notes: 300, wantCap: 320},
		{notes: 512, wantCap: 512},
	} {
		q := watchqueue.New(watchqueue.Options{})
		err := q.SetSize(tc.notes)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
			t.Errorf("SetSize(%d) = %v, want %v", tc.notes, err, tc.wantErr)
		}
		if got := q.Capacity(); got != tc.wantCap {
			t.Errorf("SetSize(%d): capacity %d, want %d", tc.notes, got, tc.wantCap)
		}
	}

	q := sized(t, 10, watchqueue.Options{})
	if err := q.SetSize(20); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second SetSize = %v, want EBUSY", err)
	}
	if q.Capacity() != 32 {
		t.Errorf("a refused resize changed the capacity to %d", q.Capacity())
	}
}

func TestPostBeforeSizeIsDroppedSilently(t *testing.T) {
	q := watchqueue.New(watchqueue.Options{})
	defer q.Close()
	if q.Post(keyRec(watchqueue.KeyUpdated, 5, 0), 1, 0) {
		t.Fatal("an unsized queue took a record")
	}
	if err := q.SetSize(1); err != nil {
		t.Fatal(err)
	}
	q.Post(keyRec(watchqueue.KeyRevoked, 6, 0), 1, 0)
	recs := drain(t, q, 4096)
	want := []watchqueue.Record{watchqueue.KeyNotification{Subtype: watchqueue.KeyRevoked, Tag: 1, KeyID: 6}}
	if !equalRecords(recs, want) {
		t.Errorf("read %v, want %v (no loss record for posts before sizing)", recs, want)
	}
}

func equalRecords(a, b []watchqueue.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if _, raw := a[i].(watchqueue.Raw); raw {
			return false
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPostSetsTagAndLength(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	rec := keyRec(watchqueue.KeyLinked, 10, 11)
	rec[4], rec[5] = 0x7f, 0xee // garbage length and tag from a careless poster
	q.Post(rec, 9, 0)
	buf := make([]byte, 64)
	n, err := q.TryRead(buf)
	if err != nil || n != 16 {
		t.Fatalf("read %d, %v; want one 16-byte record", n, err)
	}
	h, _ := watchqueue.DecodeHeader(buf)
	if h.Len() != 16 || h.Tag() != 9 {
		t.Errorf("header length %d tag %d, want 16 and 9", h.Len(), h.Tag())
	}
}

func TestPostRejectsBadLengths(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	if q.Post(make([]byte, 7), 0, 0) || q.Post(make([]byte, 128), 0, 0) {
		t.Error("a record outside 8..127 bytes was queued")
	}
	if !q.Post(make([]byte, 127), 0, 0) || !q.Post(make([]byte, 8), 0, 0) {
		t.Error("a record of 8 or 127 bytes was refused")
	}
	rq := sized(t, 32, watchqueue.Options{Revisions: true})
	if rq.Post(make([]byte, 120), 0, 0) {
		t.Error("a revision queue took a record that its revision would push past 127 bytes")
	}
	if q.Lost() != 0 || rq.Lost() != 0 {
		t.Error("a malformed record counted as a loss")
	}
}

func TestReadManyRecordsPerCall(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	for i := range uint32(10) {
		q.Post(keyRec(watchqueue.KeyUpdated, i, 0), 1, 0)
	}
	buf := make([]byte, 1000)
	n, err := q.TryRead(buf)
	if err != nil || n != 160 {
		t.Fatalf("read %d, %v; want all 10 records (160 bytes) at once", n, err)
	}
	if q.Len() != 0 {
		t.Errorf("%d records left after a read that took them all", q.Len())
	}
}

func TestReadShortBuffer(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0)
	q.Post(keyRec(watchqueue.KeyUpdated, 2, 0), 1, 0)

	if n, err := q.TryRead(make([]byte, 15)); !errors.Is(err, unix.ENOBUFS) || n != 0 {
		t.Errorf("read into 15 bytes = %d, %v; want ENOBUFS", n, err)
	}
	if q.Len() != 2 {
		t.Fatalf("ENOBUFS consumed a record: %d left", q.Len())
	}
	buf := make([]byte, 31) // one record fits, the second does not
	if n, err := q.TryRead(buf); err != nil || n != 16 {
		t.Errorf("read into 31 bytes = %d, %v; want a short read of one record", n, err)
	}
	if n, err := q.TryRead(buf); err != nil || n != 16 {
		t.Errorf("second read = %d, %v; want the other record", n, err)
	}
	if n, err := q.TryRead(nil); err != nil || n != 0 {
		t.Errorf("read of 0 bytes = %d, %v; want 0, nil", n, err)
	}
	if _, err := q.TryRead(buf); !errors.Is(err, unix.EAGAIN) {
		t.Errorf("read of an empty queue = %v, want EAGAIN", err)
	}
}

func TestReadBlocksUntilPost(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	got := make(chan int)
	go func() {
		n, _ := q.ReadContext(context.Background(), make([]byte, 100))
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("read returned %d before anything was posted", n)
	case <-time.After(20 * time.Millisecond):
	}
	q.Post(keyRec(watchqueue.KeyCleared, 3, 0), 1, 0)
	if n := <-got; n != 16 {
		t.Errorf("blocked read returned %d bytes, want 16", n)
	}
}

func TestReadHonoursContext(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := q.ReadContext(ctx, make([]byte, 100)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read past its deadline = %v, want DeadlineExceeded", err)
	}
}

func TestCloseReleasesReadersAndRefusesEverything(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	done := make(chan error)
	go func() {
		_, err := q.Read(make([]byte, 100))
		done <- err
	}()
	time.Sleep(5 * time.Millisecond) // let the reader block
	q.Close()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Errorf("blocked read after Close = %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a reader blocked")
	}
	if q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0) {
		t.Error("a closed queue took a post")
	}
	if err := q.Attach(nopAttachment{}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Attach to a closed queue = %v, want ENOENT", err)
	}
	if err := q.SetSize(32); err == nil {
		t.Error("SetSize on a closed queue succeeded")
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCloseDiscardsUnreadRecords(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0)
	q.Close()
	if n, err := q.TryRead(make([]byte, 100)); err != io.EOF || n != 0 {
		t.Errorf("read after Close = %d, %v; want 0, io.EOF", n, err)
	}
	if q.Len() != 0 || q.Capacity() != 0 {
		t.Errorf("closed queue still holds %d records of capacity %d", q.Len(), q.Capacity())
	}
}

type nopAttachment struct{}

func (nopAttachment) QueueClosed(*watchqueue.Queue) {}

type countingAttachment struct{ n *int }

func (a countingAttachment) QueueClosed(*watchqueue.Queue) { *a.n++ }

func TestCloseLetsGoOfAttachments(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	var kept, detached int
	a, b := countingAttachment{&kept}, &countingAttachment{&detached}
	if err := q.Attach(a); err != nil {
		t.Fatal(err)
	}
	if err := q.Attach(b); err != nil {
		t.Fatal(err)
	}
	q.Detach(b)
	q.Close()
	q.Close()
	if kept != 1 || detached != 0 {
		t.Errorf("QueueClosed called %d times on the attached one, %d on the detached one; want 1 and 0", kept, detached)
	}
	if q.Attached() != 0 {
		t.Errorf("%d attachments survive Close", q.Attached())
	}
}

func TestReadyFiresForSelectLoops(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	select {
	case <-q.Ready():
		t.Fatal("an empty queue is ready")
	default:
	}
	q.Post(keyRec(watchqueue.KeyUpdated, 1, 0), 1, 0)
	q.Post(keyRec(watchqueue.KeyUpdated, 2, 0), 1, 0)
	select {
	case <-q.Ready():
	case <-time.After(time.Second):
		t.Fatal("Ready did not fire after a post")
	}
	// A read that leaves a record behind keeps the queue ready.
	if n, err := q.TryRead(make([]byte, 16)); n != 16 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	select {
	case <-q.Ready():
	default:
		t.Fatal("Ready did not fire with a record still queued")
	}
}

func TestRecordsIterator(t *testing.T) {
	q := sized(t, 32, watchqueue.Options{})
	q.Post(keyRec(watchqueue.KeyLinked, 1, 2), 4, 0)
	q.Post(watchqueue.Removal{ID: 1, HasID: true}.AppendBinary(nil, false), 4, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var got []watchqueue.Record
	var end error
	for rec, err := range q.Records(ctx) {
		if err != nil {
			end = err
			break
		}
		got = append(got, rec)
	}
	want := []watchqueue.Record{
		watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, Tag: 4, KeyID: 1, Aux: 2},
		watchqueue.Removal{Tag: 4, ID: 1, HasID: true},
	}
	if !equalRecords(got, want) {
		t.Errorf("iterated %v, want %v", got, want)
	}
	if !errors.Is(end, context.DeadlineExceeded) {
		t.Errorf("iterator ended with %v, want the context's error", end)
	}

	q.Close()
	for rec, err := range q.Records(context.Background()) {
		t.Errorf("iterator over a closed queue yielded %v, %v", rec, err)
	}
}

func TestLossRecordCollapsesManyLosses(t *testing.T) {
	q := sized(t, 1, watchqueue.Options{}) // 32 notes
	for i := range uint32(32 + 100) {
		q.Post(keyRec(watchqueue.KeyUpdated, i, 0), 1, 0)
	}
	if q.Lost() != 100 {
		t.Errorf("Lost() = %d, want 100", q.Lost())
	}
	recs := drain(t, q, 4096)
	losses := 0
	for _, r := range recs {
		if _, ok := r.(watchqueue.Loss); ok {
			losses++
		}
	}
	if len(recs) != 33 || losses != 1 {
		t.Errorf("read %d records with %d loss records, want 32 records and one loss record", len(recs), losses)
	}
}

func TestRevisionsAndRecoverableLoss(t *testing.T) {
	q := sized(t, 1, watchqueue.Options{Revisions: true})
	for i := range uint32(40) {
		q.Post(keyRec(watchqueue.KeyUpdated, i, 0), 1, 1000+uint64(i))
	}
	recs := drain(t, q, 4096)
	if len(recs) != 33 {
		t.Fatalf("read %d records, want 32 and a loss record", len(recs))
	}
	for i, r := range recs[:32] {
		k, ok := r.(watchqueue.KeyNotification)
		if !ok || k.Revision != 1000+uint64(i) || k.KeyID != uint32(i) {
			t.Fatalf("record %d = %+v, want key %d with revision %d", i, r, i, 1000+i)
		}
	}
	if l, ok := recs[32].(watchqueue.Loss); !ok || l.Revision != 1031 {
		t.Errorf("last record = %+v, want a loss carrying revision 1031, the last one delivered", recs[32])
	}
}

func TestRevisionRecordsWalkByLength(t *testing.T) {
	// A parser that knows nothing of revisions still walks the buffer by
	// the length field, and sees the kernel's fields where it expects them.
	q := sized(t, 32, watchqueue.Options{Revisions: true})
	q.Post(keyRec(watchqueue.KeyLinked, 7, 8), 2, 99)
	q.Post(watchqueue.Removal{ID: 7, HasID: true}.AppendBinary(nil, false), 2, 100)
	buf := make([]byte, 4096)
	n, _ := q.TryRead(buf)
	if n != 24+24 {
		t.Fatalf("read %d bytes, want two 24-byte records", n)
	}
	r, size, err := watchqueue.Decode(buf[:n], false)
	raw, ok := r.(watchqueue.Raw)
	if err != nil || size != 24 || !ok || len(raw.Data) != 16 {
		// 24 bytes is not a kernel key record: a revision-blind decoder
		// must step over it whole, not mistake it for one.
		t.Fatalf("revision-blind decode = %+v, %d, %v; want a 24-byte Raw", r, size, err)
	}
	if raw.Data[0] != 7 || raw.Data[4] != 8 || raw.Data[8] != 99 {
		t.Errorf("revision-blind body % x, want key 7, aux 8, then revision 99", raw.Data)
	}
	h, _ := watchqueue.DecodeHeader(buf)
	if h.Len() != 24 || h.Type != watchqueue.TypeKeyNotify {
		t.Errorf("header %+v, want a 24-byte key record", h)
	}
}
