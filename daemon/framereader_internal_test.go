//go:build linux

package daemon

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/wire"
)

// socketPair is a connected pair of Unix stream sockets, as net.Conns.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.TempDir() + "/s", Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Frames of every size from empty to several times the buffer, written in
// pieces cut anywhere, come out whole and in order, and the buffer goes
// back to its usual size once a large frame is through.
func TestFrameReaderReassembles(t *testing.T) {
	w, r := socketPair(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	var stream []byte
	for i := range 300 {
		size := rng.IntN(64)
		switch i % 10 {
		case 3:
			size = socketReadBuffer - wire.LengthSize - wire.HeaderSize // exactly one buffer
		case 7:
			size = rng.IntN(3 * growStep) // several growth steps
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		frames = append(frames, body)
		var err error
		stream, err = wire.Frame{Kind: wire.KindRecord, ID: uint32(i), Op: watchCode, Body: body}.Append(stream)
		if err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(3*socketReadBuffer))
			if _, err := w.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		w.CloseWrite()
	}()

	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(socketReadBuffer)
	next := 0
	err = fr.run(rc, frameHandler{
		frame: func(f wire.Frame, err error) bool {
			if err != nil {
				t.Errorf("frame %d: %v", next, err)
				return false
			}
			if f.ID != uint32(next) || !bytes.Equal(f.Body, frames[next]) {
				t.Errorf("frame %d: id %d, %d bytes; want %d bytes", next, f.ID, len(f.Body), len(frames[next]))
				return false
			}
			next++
			return true
		},
		idle: func() (bool, bool) { return true, false },
	})
	if !errors.Is(err, io.EOF) || next != len(frames) {
		t.Fatalf("after %d of %d frames: %v, want io.EOF at the end", next, len(frames), err)
	}
	if len(fr.buf) != socketReadBuffer {
		t.Errorf("buffer left at %d bytes, want %d", len(fr.buf), socketReadBuffer)
	}
}

// A peer that hangs up inside a frame is io.ErrUnexpectedEOF; one that
// announces a frame over the limit is told, with nothing allocated for it.
func TestFrameReaderEnds(t *testing.T) {
	t.Run("torn", func(t *testing.T) {
		w, r := socketPair(t)
		whole, _ := wire.Frame{Kind: wire.KindRequest, ID: 1, Op: opRead.code, Body: []byte{0, 0, 0, 1}}.Append(nil)
		w.Write(whole[:len(whole)-1])
		w.CloseWrite()
		rc, _ := r.SyscallConn()
		err := newFrameReader(socketReadBuffer).run(rc, frameHandler{
			frame: func(wire.Frame, error) bool { t.Error("a torn frame was handed out"); return true },
			idle:  func() (bool, bool) { return true, false },
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		w, r := socketPair(t)
		w.Write([]byte{0xff, 0xff, 0xff, 0xff})
		rc, _ := r.SyscallConn()
		fr := newFrameReader(socketReadBuffer)
		var got error
		err := fr.run(rc, frameHandler{
			frame: func(_ wire.Frame, err error) bool { got = err; return true },
			idle:  func() (bool, bool) { return true, false },
		})
		if err != nil || got == nil || len(fr.buf) != socketReadBuffer {
			t.Fatalf("run = %v, frame error %v, buffer %d bytes; want nil, EMSGSIZE, %d", err, got, len(fr.buf), socketReadBuffer)
		}
	})
	t.Run("closing", func(t *testing.T) {
		_, r := socketPair(t)
		rc, _ := r.SyscallConn()
		err := newFrameReader(socketReadBuffer).run(rc, frameHandler{
			frame: func(wire.Frame, error) bool { return true },
			idle:  func() (bool, bool) { return true, false },
			more:  func() bool { return false },
		})
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("err = %v, want os.ErrDeadlineExceeded when more says no", err)
		}
	})
}
