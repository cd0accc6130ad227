//go:build linux

package daemon

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

var update = flag.Bool("update", false, "freeze the table's new rows in testdata/ops.golden")

// opsGolden holds every op given out: its code, name, and the layout and
// encoding of its request (>) and reply (<), one block per op.
var opsGolden = filepath.Join("testdata", "ops.golden")

// A code is the protocol's once it is given out, and so are its request
// and reply: older clients and daemons would call one op and be served
// another, or misread its fields. The table must hold every op of
// testdata/ops.golden as it is there, so that renumbering an op, dropping
// one, or changing what its request or reply carries fails here. A new
// row fails too until -update appends it to the file, which is all
// -update does: it never changes or drops an op already there. Changing
// one on purpose (with a new wire.Version) is an edit of the file by
// hand, for the reviewer to see.
func TestOpsFrozen(t *testing.T) {
	frozen, order := readOpsGolden(t)
	var added []string
	for code, h := range byCode {
		if h == nil {
			continue
		}
		block := opBlock(wire.Op(code), h)
		was, ok := frozen[wire.Op(code)]
		switch {
		case !ok && *update:
			added = append(added, block)
		case !ok:
			t.Errorf("op %s (code %d) is not in %s: run go test ./daemon -run TestOpsFrozen -update, and commit the file with the row", h, code, opsGolden)
		case was != block:
			t.Errorf("op %d changed; a code's name, request and reply are the protocol's, never changed (add an op instead):\nwas:\n%sis:\n%s", code, was, block)
		}
		delete(frozen, wire.Op(code))
	}
	for _, code := range order {
		if was, ok := frozen[code]; ok {
			t.Errorf("op %d is gone from the table; its code is the protocol's:\n%s", code, was)
		}
	}
	if len(added) > 0 && !t.Failed() {
		f, err := os.OpenFile(opsGolden, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(strings.Join(added, "")); err != nil {
			t.Fatal(err)
		}
		t.Logf("froze %d new ops in %s", len(added), opsGolden)
	}
	if opWatch.code != watchCode {
		t.Errorf("watch's row has code %d, record frames carry %d", opWatch.code, watchCode)
	}
}

// readOpsGolden reads the frozen ops, by code, and their codes in the
// file's order.
func readOpsGolden(t *testing.T) (map[wire.Op]string, []wire.Op) {
	t.Helper()
	b, err := os.ReadFile(opsGolden)
	if err != nil {
		t.Fatal(err)
	}
	frozen := map[wire.Op]string{}
	var order []wire.Op
	for _, line := range strings.SplitAfter(string(b), "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "\t"):
			if len(order) == 0 {
				t.Fatalf("%s: %q outside an op", opsGolden, line)
			}
			frozen[order[len(order)-1]] += line
		default:
			code, _, _ := strings.Cut(line, " ")
			n, err := strconv.ParseUint(code, 10, 16)
			if err != nil {
				t.Fatalf("%s: %q: %v", opsGolden, line, err)
			}
			order = append(order, wire.Op(n))
			frozen[wire.Op(n)] = line
		}
	}
	return frozen, order
}

// opBlock is an op's entry in ops.golden: its code and name, then its
// request's and reply's types and the bytes a sample of each encodes to.
func opBlock(code wire.Op, h handler) string {
	req, rep := h.messages()
	fill(req)
	fill(rep)
	return fmt.Sprintf("%d %s\n\t> %s %s\n\t< %s %s\n", code, h,
		layout(reflect.TypeOf(req).Elem()), hexOr(wire.Encode(nil, req)),
		layout(reflect.TypeOf(rep).Elem()), hexOr(wire.EncodeReply(nil, 0, "", rep)))
}

func hexOr(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// layout writes a message type out with its fields' names and types.
func layout(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		fields := make([]string, t.NumField())
		for i := range fields {
			f := t.Field(i)
			fields[i] = f.Name + " " + layout(f.Type)
		}
		return t.Name() + "{" + strings.Join(fields, ", ") + "}"
	case reflect.Slice:
		return "[]" + layout(t.Elem())
	case reflect.Array:
		return fmt.Sprintf("[%d]%s", t.Len(), layout(t.Elem()))
	case reflect.Uint8:
		return "byte"
	}
	return t.Kind().String()
}

// fill gives every field of message m a value that is not zero and
// differs from its neighbours', so that a field dropped, swapped or cut
// on the way shows: lists get two elements.
func fill(m wire.Message) {
	n := 0
	fillValue(reflect.ValueOf(m).Elem(), &n)
}

func fillValue(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			fillValue(v.Field(i), n)
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32, reflect.Int64:
		v.SetInt(-int64(*n))
	case reflect.Uint8, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.String:
		v.SetString("s" + strconv.Itoa(*n))
	case reflect.Array:
		for i := range v.Len() {
			fillValue(v.Index(i), n)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillValue(s.Index(i), n)
		}
		v.Set(s)
	default:
		panic(fmt.Sprintf("fill: a %v field: teach fill and layout its kind", v.Type()))
	}
}

// Every row's request and reply come back from the wire as they went:
// a reply's results on success, its errno and message alone on failure.
// The samples are the table's own, so a new row is covered as it is
// added.
func TestOpsRoundTrip(t *testing.T) {
	for code, h := range byCode {
		if h == nil {
			continue
		}
		t.Run(h.String(), func(t *testing.T) {
			req, rep := h.messages()
			fill(req)
			fill(rep)
			b, err := wire.AppendRequest(nil, 7, wire.Op(code), req)
			if err != nil {
				t.Fatal(err)
			}
			f, _, err := wire.DecodeFrame(b)
			if err != nil || f.Op != wire.Op(code) {
				t.Fatalf("DecodeFrame: op %d, %v", f.Op, err)
			}
			gotReq, gotRep := h.messages()
			if err := wire.Decode(f.Body, gotReq); err != nil || !reflect.DeepEqual(gotReq, req) {
				t.Fatalf("request decoded %+v, %v; want %+v", gotReq, err, req)
			}
			errno, msg, err := wire.DecodeReply(wire.EncodeReply(nil, 0, "", rep), gotRep)
			if err != nil || errno != 0 || msg != "" || !reflect.DeepEqual(gotRep, rep) {
				t.Fatalf("reply decoded %+v (%v %q %v); want %+v", gotRep, errno, msg, err, rep)
			}
			_, zero := h.messages()
			_, gotRep = h.messages()
			errno, msg, err = wire.DecodeReply(wire.EncodeReply(nil, unix.ENOKEY, "keyring: key 5: required key not available", rep), gotRep)
			if err != nil || errno != unix.ENOKEY || msg == "" || !reflect.DeepEqual(gotRep, zero) {
				t.Fatalf("failure decoded %v %q %v, results %+v", errno, msg, err, gotRep)
			}
		})
	}
}

// FuzzOpBodies feeds arbitrary bodies to every row's request and reply
// decoders, as the daemon and the client would meet them: whatever one
// accepts must encode back to the same bytes, since every value has one
// encoding. The seeds are the table's samples (testdata/fuzz holds more).
func FuzzOpBodies(f *testing.F) {
	for code, h := range byCode {
		if h == nil {
			continue
		}
		req, rep := h.messages()
		fill(req)
		fill(rep)
		f.Add(uint16(code), wire.Encode(nil, req))
		f.Add(uint16(code), wire.EncodeReply(nil, 0, "", rep))
	}
	f.Fuzz(func(t *testing.T, code uint16, body []byte) {
		h := lookup(wire.Op(code))
		if h == nil {
			return
		}
		req, rep := h.messages()
		if wire.Decode(body, req) == nil {
			if got := wire.Encode(nil, req); !bytes.Equal(got, body) {
				t.Fatalf("%s request re-encodes to %x, was %x", h, got, body)
			}
		}
		if errno, msg, err := wire.DecodeReply(body, rep); err == nil {
			if got := wire.EncodeReply(nil, errno, msg, rep); !bytes.Equal(got, body) {
				t.Fatalf("%s reply re-encodes to %x, was %x", h, got, body)
			}
		}
	})
}

// The ops of the golden file are in code order, each once: the file reads
// as the table's history.
func TestOpsGoldenOrder(t *testing.T) {
	_, order := readOpsGolden(t)
	if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
		t.Errorf("%s: codes %v, want each once, in order", opsGolden, order)
	}
}
