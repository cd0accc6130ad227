//go:build linux

package journal

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/keyctl-go/keyctl-go/keystore/internal/crc32c"
)

// Reading the write-ahead log (wal.go) after a crash, and telling a torn
// write from damage.
//
// A crash may leave any part of what was written since the last
// completed fdatasync as it was before, sector by sector, and group
// commit is pipelined: a batch is written while the one before it is
// still syncing, so several batches may be torn at once. None of them was
// acknowledged, and recovery drops them. Everything else was on disk
// when the process stopped, so a record of it that does not check is
// damage, and losing the records after it would lose acknowledged
// changes: the log is refused (ErrCorrupt) instead.
//
// What tells the two apart is written in the records themselves. Each
// says up to where the log was known to be synced when it was framed: an
// intact record anywhere after a bad one, whose mark is past the bad
// one's start, proves the bad one had been synced. So do the rules the
// writer keeps (wal.go): a record head that checks but is out of sequence
// (records cut out of the middle), a record that checks but runs past the
// end of the file (the file was cut), a file whose size is not a whole
// number of chunks (likewise), a record of the generation after the
// header in force (the newer header is damaged).

// Record is one intact record.
type Record struct {
	At     int64 // offset in the file
	Size   int   // bytes, head and body
	Seq    uint32
	Synced int64 // the record's mark: the log was on disk up to here
	Body   []byte
}

// End is where the record ends.
func (r Record) End() int64 { return r.At + int64(r.Size) }

// Damage is what ends a log's intact records other than zeros or an
// older generation's leftovers.
type Damage struct {
	At      int64  // where the first record that does not check starts
	Problem string // what is wrong there
	// Proof says how the damage is known not to be a torn write; empty
	// for a torn write.
	Proof string
	After []Record // intact records after At
}

// State is what a log holds, read without changing it.
type State struct {
	Size      int64  // the file's, in bytes
	Header    Header // the header in force
	HasHeader bool
	Records   []Record // intact records to replay, in order
	Damage    *Damage  // nil: nothing after them
	end       int64    // where the records end
	newest    uint64   // the newest generation the log has seen
}

// Corrupt reports whether the log holds damage that is not a torn write.
func (s *State) Corrupt() bool { return s.Damage != nil && s.Damage.Proof != "" }

// bodies are the records' bodies, in order.
func (s *State) bodies() [][]byte {
	bodies := make([][]byte, len(s.Records))
	for i, r := range s.Records {
		bodies[i] = r.Body
	}
	return bodies
}

// Refusal is the error, matching ErrCorrupt, that refuses a store whose
// log, at path, is corrupt; nil when it is not.
func (s *State) Refusal(path string) error {
	if !s.Corrupt() {
		return nil
	}
	d := s.Damage
	return corruptf("write-ahead log %s, byte %d: %s; %s, so this is damage, not a torn write: %d intact records after it would be lost; a repair (fsck) keeps the %d before it",
		path, d.At, d.Problem, d.Proof, len(d.After), len(s.Records))
}

// Read reads the log as it is, changing nothing in the file: the header
// in force and, when it holds a checkpoint to recover, its records and
// whatever follows them. The journal goes on from the header in force.
func (w *Log) Read() (State, error) {
	st, err := w.f.Stat()
	if err != nil {
		return State{}, err
	}
	s := State{Size: st.Size(), end: walRecordsAt}
	slots, err := w.readSlots()
	if err != nil {
		return s, err
	}
	for _, slot := range slots {
		if h, ok := parseWALHeader(slot); ok && (!s.HasHeader || h.Generation > s.Header.Generation) {
			s.Header, s.HasHeader = h, true
		}
	}
	s.newest = s.Header.Generation
	// The records matter only when there is a checkpoint to recover;
	// otherwise the first record's head is all newerGeneration needs,
	// unless it finds one.
	readArea := func(n int64) ([]byte, error) {
		area := make([]byte, max(0, min(n, s.Size-walRecordsAt)))
		if _, err := w.f.ReadAt(area, walRecordsAt); err != nil && err != io.EOF {
			return nil, fmt.Errorf("journal: reading the write-ahead log %s: %w", w.path, err)
		}
		return area, nil
	}
	replays := s.HasHeader && s.Header.Txid != 0
	n := int64(walRecordHead)
	if replays {
		n = s.Size
	}
	area, err := readArea(n)
	if err != nil {
		return s, err
	}
	if replays {
		if s.Header.Format == walFormatV1 {
			bodies, _ := splitWALRecordsV1(area, s.Header.Generation)
			for i, b := range bodies {
				s.Records = append(s.Records, Record{At: s.end, Size: walRecordHeadV1 + len(b), Seq: uint32(i + 1), Body: b})
				s.end += int64(walRecordHeadV1 + len(b))
			}
		} else {
			s.scanRecords(area)
			s.checkSize()
		}
	}
	if gen, ok := s.newerGeneration(slots, area); ok {
		if area, err = readArea(s.Size); err != nil {
			return s, err
		}
		s.newerHeaderDamaged(gen, area)
	}
	// The journal goes on from the header in force; records of its own
	// start only after the next header.
	w.header, w.end = s.Header, walRecordsAt
	return s, nil
}

// scanRecords reads the records of the header's generation from area,
// the file from walRecordsAt on, and what ends them.
func (s *State) scanRecords(area []byte) {
	gen := s.Header.Generation
	seq, synced := uint32(1), walRecordsAt
	i := 0
	for {
		at := walRecordsAt + int64(i)
		s.end = at
		h, ok := parseWALHead(area[i:], gen)
		if !ok {
			// Zeros, an older generation's record, or a torn head: no
			// record of this generation starts here.
			s.damageAt(area, i, i+1, seq, "", "")
			return
		}
		switch {
		case h.seq != seq:
			s.damageAt(area, i, i, seq, fmt.Sprintf("record %d is where %d was due", h.seq, seq),
				"the records in between are missing")
			return
		case h.synced < synced || h.synced > at:
			s.damageAt(area, i, i, seq, fmt.Sprintf("record %d says the log was synced up to byte %d", seq, h.synced),
				fmt.Sprintf("that is out of order (the record before said %d)", synced))
			return
		case h.n > len(area)-i-walRecordHead:
			s.damageAt(area, i, i, seq, fmt.Sprintf("record %d of %d bytes runs past the end of the log", seq, h.n),
				fmt.Sprintf("records are written only where the file's size was already synced, so the log was cut short at byte %d", s.Size))
			return
		}
		body := area[i+walRecordHead : i+walRecordHead+h.n]
		if crc32c.Checksum(body) != h.bodySum {
			s.damageAt(area, i, i+walRecordHead+h.n, seq, fmt.Sprintf("record %d's body does not match its checksum", seq), "")
			return
		}
		s.Records = append(s.Records, Record{At: at, Size: walRecordHead + h.n, Seq: seq, Synced: h.synced, Body: body})
		i += walRecordHead + h.n
		seq++
		synced = h.synced
	}
}

// damageAt records what ends the records at area[i:], the next being
// seq, and looks for intact records from area[from:] on: they are lost
// if the records before i are all that is kept, and they may prove that
// the damage is not a torn write. An empty problem means no record of
// the generation starts at i; if none follows either, that is the log's
// normal end.
func (s *State) damageAt(area []byte, i, from int, seq uint32, problem, proof string) {
	d := &Damage{At: walRecordsAt + int64(i), Problem: problem, Proof: proof}
	if problem == "" {
		d.Problem = "no intact record starts there"
	}
	var cut *Record
	d.After, cut = intactRecords(area, from, s.Header.Generation)
	for _, r := range d.After {
		switch {
		case d.Proof != "":
		case r.Synced > d.At:
			d.Proof = fmt.Sprintf("record %d at byte %d was written when the log was known synced up to byte %d", r.Seq, r.At, r.Synced)
		case r.Seq < seq:
			d.Proof = fmt.Sprintf("record %d at byte %d repeats a sequence number the log has already used", r.Seq, r.At)
		}
	}
	if d.Proof == "" && cut != nil {
		d.Proof = fmt.Sprintf("record %d at byte %d runs past the end of the log, where records are written only where the file's size was already synced: the log was cut short", cut.Seq, cut.At)
	}
	if d.Proof == "" && len(d.After) == 0 && problem == "" {
		return // the end of the log
	}
	s.Damage = d
}

// checkSize applies the size rule: a log is a whole number of chunks.
func (s *State) checkSize() {
	if s.Size >= walChunk && s.Size%walChunk == 0 {
		return
	}
	proof := fmt.Sprintf("the log is %d bytes, not a whole number of %d-byte chunks: it was cut short or changed", s.Size, walChunk)
	if s.Damage == nil {
		s.Damage = &Damage{At: s.end, Problem: "the records may go on past the end of the file", Proof: proof}
	} else if s.Damage.Proof == "" {
		s.Damage.Proof = proof
	}
}

// newerGeneration looks for the first record of a generation newer than
// the header in force at the start of area. A generation's records are
// written only once its header is synced, so one found means that header
// was on disk and has been damaged since: the header in force is an older
// one, and what the log says is not what was acknowledged.
func (s *State) newerGeneration(slots [2][]byte, area []byte) (uint64, bool) {
	next := []uint64{1}
	if s.HasHeader {
		next[0] = s.Header.Generation + 1
	}
	for _, slot := range slots {
		// A slot that still starts with the magic names its generation,
		// though it no longer checks.
		if len(slot) >= 16 && string(slot[:7]) == string(walMagic[:7]) && headerLen(slot[7]) != 0 {
			if g := binary.LittleEndian.Uint64(slot[8:]); g != next[0] && (!s.HasHeader || g > s.Header.Generation) {
				next = append(next, g)
			}
		}
	}
	for _, gen := range next {
		if h, ok := parseWALHead(area, gen); ok && h.seq == 1 && h.synced == walRecordsAt {
			return gen, true
		}
	}
	return 0, false
}

// newerHeaderDamaged records that the header of generation gen is
// damaged: nothing the log holds can be recovered, and gen's records,
// found in area, are what is lost.
func (s *State) newerHeaderDamaged(gen uint64, area []byte) {
	after, _ := intactRecords(area, 0, gen)
	s.Damage = &Damage{
		At:      int64(gen%2) * walSlotSize,
		Problem: fmt.Sprintf("the header of generation %d does not check", gen),
		Proof:   fmt.Sprintf("the log holds records of that generation from byte %d, and they are written only once their header is synced", walRecordsAt),
		After:   after,
	}
	s.Records, s.end = nil, walRecordsAt
	s.newest = max(s.newest, gen)
}

// walHead is a record head that checks.
type walHead struct {
	n       int // body length
	seq     uint32
	bodySum uint32
	synced  int64
}

// parseWALHead reads the head of a record of generation gen at the start
// of b, if one is there.
func parseWALHead(b []byte, gen uint64) (walHead, bool) {
	if len(b) < walRecordHead {
		return walHead{}, false
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n == 0 || binary.LittleEndian.Uint32(b) != walHeadSum(gen, b) {
		return walHead{}, false
	}
	return walHead{
		n:       int(n),
		seq:     binary.LittleEndian.Uint32(b[8:]),
		bodySum: binary.LittleEndian.Uint32(b[12:]),
		synced:  int64(binary.LittleEndian.Uint64(b[16:])),
	}, true
}

// intactRecords finds the intact records of generation gen in area from
// area[from:] on. After a record that does not check, the next may start
// anywhere, so every offset is tried, and each record found leads to the
// one after it. cut is a record whose head checks but whose body runs
// past the end of area.
func intactRecords(area []byte, from int, gen uint64) (found []Record, cut *Record) {
	for p := from; p+walRecordHead <= len(area); {
		b := area[p:]
		at := walRecordsAt + int64(p)
		// Cheap tests first: nearly every offset fails them, and only
		// then is a checksum computed. A mark past the record's own place
		// passes: a record moved back by bytes cut out before it says so.
		synced := binary.LittleEndian.Uint64(b[16:])
		if binary.LittleEndian.Uint32(b[4:]) == 0 || binary.LittleEndian.Uint32(b[8:]) == 0 || synced < uint64(walRecordsAt) || synced > math.MaxUint32 {
			p++
			continue
		}
		h, ok := parseWALHead(b, gen)
		switch {
		case !ok:
			p++
		case h.n > len(b)-walRecordHead:
			if cut == nil {
				cut = &Record{At: at, Size: walRecordHead + h.n, Seq: h.seq, Synced: h.synced}
			}
			p++
		case crc32c.Checksum(b[walRecordHead:walRecordHead+h.n]) != h.bodySum:
			p++
		default:
			found = append(found, Record{At: at, Size: walRecordHead + h.n, Seq: h.seq, Synced: h.synced, Body: b[walRecordHead : walRecordHead+h.n]})
			p += walRecordHead + h.n
		}
	}
	return found, cut
}
