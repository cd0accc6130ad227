//go:build linux

package daemon_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Frame sizes of one read through the daemon of BenchmarkDaemonRead's key:
// a request naming the key, and a reply carrying its 32-byte payload.
const (
	echoRequestSize = 24
	echoReplySize   = 56
)

// BenchmarkSocketEchoBaseline is BenchmarkDaemonRead's transport alone:
// 16 clients, each on its own Unix socket connection, send a frame of a
// read request's size and wait for a frame of a reply's size, which a
// goroutine per connection on the other side sends back at once. No
// protocol, no store: the four system calls and the goroutine wake-ups a
// round trip over a socket costs in Go, so DaemonRead's ops/s over this
// one's says how much of the transport's ceiling the daemon reaches.
func BenchmarkSocketEchoBaseline(b *testing.B) {
	b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
		ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "echo.sock"))
		if err != nil {
			b.Fatal(err)
		}
		served := make(chan struct{})
		go func() {
			defer close(served)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go echo(c)
			}
		}()
		b.Cleanup(func() {
			ln.Close()
			<-served
		})
		conns := make([]io.ReadWriter, benchClients)
		for i := range conns {
			c, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		echoRoundTrips(b, conns)
	})
}

// BenchmarkPipeEchoBaseline is BenchmarkSocketEchoBaseline over two
// pipes per client, one each way, as a client's frames go once it has
// dialled: the ceiling of the transport BenchmarkDaemonRead uses.
func BenchmarkPipeEchoBaseline(b *testing.B) {
	b.Run(fmt.Sprintf("clients=%d", benchClients), func(b *testing.B) {
		ends := make([]io.ReadWriter, benchClients)
		var served sync.WaitGroup
		defer served.Wait() // deferred first, so it runs after the closes below end the echoes
		for i := range ends {
			client, server := pipePair(b)
			defer client.Close()
			ends[i] = client
			served.Go(func() { echo(server) })
		}
		echoRoundTrips(b, ends)
	})
}

// echoRoundTrips is the benchmark the echo baselines share: each client
// sends a request-sized frame on its connection and reads the reply-sized
// echo, and the figures are reported as BenchmarkDaemonRead's are.
func echoRoundTrips(b *testing.B, conns []io.ReadWriter) {
	bufs := make([][]byte, len(conns))
	for i := range bufs {
		bufs[i] = make([]byte, echoReplySize)
	}
	lat := runClients(b, len(conns), func(i int) error {
		if _, err := conns[i].Write(bufs[i][:echoRequestSize]); err != nil {
			return err
		}
		_, err := io.ReadFull(conns[i], bufs[i])
		return err
	})
	report(b, lat)
}

// pipeEnd is one side of a two-pipe connection: it reads one pipe and
// writes the other.
type pipeEnd struct{ r, w *os.File }

func (p pipeEnd) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipeEnd) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipeEnd) Close() error                { p.w.Close(); return p.r.Close() }

// pipePair is a connection made of two pipes, as its two ends.
func pipePair(b *testing.B) (pipeEnd, pipeEnd) {
	r1, w1, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	return pipeEnd{r: r2, w: w1}, pipeEnd{r: r1, w: w2}
}

// echo answers each request-sized frame read from c with a reply-sized
// one, until c is closed.
func echo(c io.ReadWriteCloser) {
	defer c.Close()
	req := make([]byte, echoRequestSize)
	reply := make([]byte, echoReplySize)
	for {
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// BenchmarkSocketSyscalls is the machine's part of the round trip: a
// write(2) and a read(2) of a request-sized frame on a socketpair of its
// own, from one goroutine and then from two at once. Two cores that ran
// these side by side would halve ns/op from threads=1 to threads=2; how
// far short of that it falls bounds what any daemon can get from the
// second core.
func BenchmarkSocketSyscalls(b *testing.B) {
	benchmarkSyscalls(b, func() (r, w int, err error) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			return 0, 0, err
		}
		return fds[1], fds[0], nil
	})
}

// BenchmarkPipeSyscalls is BenchmarkSocketSyscalls on a pipe, which is
// where a connection's frames go once a client has dialled (pipes.go).
func BenchmarkPipeSyscalls(b *testing.B) {
	benchmarkSyscalls(b, func() (r, w int, err error) {
		var fds [2]int
		err = unix.Pipe2(fds[:], 0)
		return fds[0], fds[1], err
	})
}

func benchmarkSyscalls(b *testing.B, pair func() (r, w int, err error)) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var wg sync.WaitGroup
			var next atomic.Int64
			b.ResetTimer()
			for range threads {
				wg.Go(func() {
					r, w, err := pair()
					if err != nil {
						b.Error(err)
						return
					}
					defer unix.Close(r)
					defer unix.Close(w)
					buf := make([]byte, echoRequestSize)
					for next.Add(1) <= int64(b.N) {
						if _, err := unix.Write(w, buf); err != nil {
							b.Error(err)
							return
						}
						if _, err := unix.Read(r, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
