//go:build linux

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/keystore"
)

// Passphrase-protected stores.
//
// A store's data key is wrapped either by a key file beside it (the
// default, no prompt) or by a passphrase (keystore.Options.Passphrase). A
// store is made passphrase-protected when it is created: by the global
// option --passphrase, or when a passphrase source is set in the
// environment. Whenever a passphrase is needed it is taken, in this
// order, from
//
//   - $KEYCTL_GO_PASSPHRASE_FILE, a file holding it (one trailing newline
//     is not part of it);
//   - $KEYCTL_GO_PASSPHRASE_FD, an open file descriptor to read it from,
//     to its end (one trailing newline is not part of it);
//   - the terminal, /dev/tty, with echo off: asked once per process, and
//     only when stdin is a terminal, so that scripts and services fail
//     with a message rather than hang on a prompt nobody sees.
const (
	envPassphraseFile = "KEYCTL_GO_PASSPHRASE_FILE"
	envPassphraseFD   = "KEYCTL_GO_PASSPHRASE_FD"
)

// maxPassphrase is the longest passphrase taken, in bytes: far more than
// anyone types or a generator makes, and less than a pipe holds (64 KiB),
// so handing it to a daemon through one never blocks.
const maxPassphrase = 4096

// passphraseOption is the global option that makes a new store
// passphrase-protected.
const passphraseOption = "--passphrase"

// errNoPassphrase is why a passphrase store cannot be opened without a
// terminal to ask on.
var errNoPassphrase = errors.New("set " + envPassphraseFile + " or " + envPassphraseFD + ", or run keyctl-go from a terminal to be asked for it")

// openStore opens (or creates) the store at path for a command, with the
// passphrase if it needs one, waiting up to lockWait for another opener
// (0: the store's default). It is the discovery rule's opener
// (keyctl.Options.OpenStore). The file is open for reading until the
// command's first write (keystore.Options.DeferWrite): most commands
// make none, and bbolt then never reads the file's freelist.
func (a *app) openStore(path string, lockWait time.Duration) (*keyring.Store, error) {
	return a.open(path, keystore.Options{LockTimeout: lockWait, DeferWrite: true})
}

// openStoreToServe opens (or creates) the store at path for the daemon,
// with the passphrase if it needs one: for writing at once, since a
// daemon writes soon enough, and serves reads while it does.
func (a *app) openStoreToServe(path string) (*keyring.Store, error) {
	return a.open(path, keystore.Options{})
}

// open opens the store at path with opts, and the passphrase if it
// needs one.
func (a *app) open(path string, opts keystore.Options) (*keyring.Store, error) {
	if eo, err := a.etcdOptions(); err != nil || eo != nil {
		if err != nil {
			return nil, err
		}
		return a.openEtcd(path, eo)
	}
	_, statErr := os.Stat(path)
	exists := statErr == nil
	if !exists && (a.newWithPassphrase || a.passphraseSourceSet()) {
		pass, err := a.getPassphrase(path, true)
		if err != nil {
			return nil, err
		}
		return a.openWith(path, pass, opts)
	}
	if exists && a.passphraseSourceSet() {
		// Given, so use it; a key-file store ignores it.
		pass, err := a.getPassphrase(path, false)
		if err != nil {
			return nil, err
		}
		return a.openWith(path, pass, opts)
	}
	s, err := keyring.Open(path, keyring.Options{Storage: opts, Quota: a.quota, WatchLimit: a.watchLimit()})
	if err == nil || !needsPassphrase(err) {
		return s, err
	}
	pass, err := a.getPassphrase(path, false)
	if err != nil {
		return nil, err
	}
	return a.openWith(path, pass, opts)
}

// openEtcd opens the store in etcd that eo names, its data key wrapped by
// the key file beside path, or by the passphrase if one is given.
func (a *app) openEtcd(path string, eo *EtcdSettings) (*keyring.Store, error) {
	if a.etcdEngine == nil {
		return nil, errNoEtcd
	}
	storage := keystore.Options{KeyFile: path + ".key", Engine: a.etcdEngine(*eo)}
	if a.newWithPassphrase || a.passphraseSourceSet() {
		pass, err := a.getPassphrase(path, !a.passphraseSourceSet())
		if err != nil {
			return nil, err
		}
		storage.Passphrase = pass
	}
	return keyring.Open(path, keyring.Options{Storage: storage, Quota: a.quota, WatchLimit: a.watchLimit(), Linearizable: a.linearizable})
}

func (a *app) openWith(path string, pass []byte, opts keystore.Options) (*keyring.Store, error) {
	opts.Passphrase = pass
	s, err := keyring.Open(path, keyring.Options{Storage: opts, Quota: a.quota, WatchLimit: a.watchLimit()})
	// ErrWrongKey is a wrong passphrase unless the store is a key-file
	// store (which ignores the passphrase), whose key file is beside it.
	if errors.Is(err, keystore.ErrWrongKey) && !fileExists(path+".key") {
		return nil, fmt.Errorf("wrong passphrase for the store %s", path)
	}
	return s, err
}

// needsPassphrase tells the error of opening a passphrase store without
// one.
func needsPassphrase(err error) bool { return errors.Is(err, keystore.ErrNeedPassphrase) }

// storeNeedsPassphrase reports whether opening path needs a passphrase,
// by opening it without one; it is used before starting a daemon, which
// cannot ask.
func (a *app) storeNeedsPassphrase(path string) (bool, error) {
	if eo, err := a.etcdOptions(); err != nil || eo != nil {
		return a.newWithPassphrase || a.passphraseSourceSet(), err
	}
	if _, err := os.Stat(path); err != nil {
		return a.newWithPassphrase || a.passphraseSourceSet(), nil
	}
	if a.passphrase != nil || a.passphraseSourceSet() {
		return true, nil
	}
	// A store held by another process (a daemon starting) is not waited
	// for here: the caller waits for that daemon instead (ErrLocked).
	s, err := keyring.Open(path, keyring.Options{Storage: keystore.Options{LockTimeout: lockProbe, DeferWrite: true}})
	if err == nil {
		return false, s.Close()
	}
	if needsPassphrase(err) {
		return true, nil
	}
	return false, err
}

// lockProbe is how long storeNeedsPassphrase waits for a store another
// process holds: a command that has it open for a moment lets go soon.
const lockProbe = 200 * time.Millisecond

func (a *app) passphraseSourceSet() bool {
	return a.getenv(envPassphraseFile) != "" || a.getenv(envPassphraseFD) != ""
}

// getPassphrase returns the passphrase, from the first source that is set
// (see above), reading it once per process.
func (a *app) getPassphrase(path string, creating bool) ([]byte, error) {
	if a.passphrase != nil {
		return a.passphrase, nil
	}
	var pass []byte
	switch file, fdArg := a.getenv(envPassphraseFile), a.getenv(envPassphraseFD); {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envPassphraseFile, err)
		}
		pass = trimNewline(b)
	case fdArg != "":
		fd, err := strconv.Atoi(fdArg)
		if err != nil || fd < 0 {
			return nil, fmt.Errorf("%s=%q is not a file descriptor", envPassphraseFD, fdArg)
		}
		f := os.NewFile(uintptr(fd), "passphrase")
		b, err := io.ReadAll(f)
		f.Close() // read once: nobody else in this process reads it
		if err != nil {
			return nil, fmt.Errorf("%s=%d: %w", envPassphraseFD, fd, err)
		}
		pass = trimNewline(b)
	default:
		if !a.stdinIsTerminal() {
			if creating {
				return nil, fmt.Errorf("the new store %s needs a passphrase; %w", path, errNoPassphrase)
			}
			return nil, fmt.Errorf("the store %s is protected by a passphrase; %w", path, errNoPassphrase)
		}
		prompt := "Passphrase for " + path + ": "
		if creating {
			prompt = "New passphrase for " + path + ": "
		}
		var err error
		if pass, err = readPassphrase(prompt); err != nil {
			return nil, err
		}
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("empty passphrase for the store %s", path)
	}
	if len(pass) > maxPassphrase {
		return nil, fmt.Errorf("the passphrase for the store %s is longer than %d bytes", path, maxPassphrase)
	}
	a.passphrase = pass
	return pass, nil
}

// trimNewline takes off one trailing "\n" or "\r\n", as a passphrase
// written with echo or an editor ends.
func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// stdinIsTerminal reports whether the caller's stdin is a terminal.
func (a *app) stdinIsTerminal() bool {
	f, ok := a.stdin.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// readPassphrase asks on /dev/tty, with echo off, and reads one line.
// Echo is put back however the read ends: the read goes on in the
// background while this waits for it or for SIGINT or SIGTERM, which
// would otherwise leave the terminal silent (main catches both, so they
// do not end the process).
func readPassphrase(prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot ask for the passphrase: %w", err)
	}
	defer tty.Close()
	// Through the raw conn, not Fd, which would make reads blocking and
	// so beyond the reach of Close.
	raw, err := tty.SyscallConn()
	if err != nil {
		return nil, err
	}
	termios := func(req uint, t *unix.Termios) (got *unix.Termios, err error) {
		cerr := raw.Control(func(fd uintptr) {
			if t == nil {
				got, err = unix.IoctlGetTermios(int(fd), req)
			} else {
				err = unix.IoctlSetTermios(int(fd), req, t)
			}
		})
		return got, errors.Join(cerr, err)
	}
	old, err := termios(unix.TCGETS, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot ask for the passphrase: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ECHONL
	if _, err := termios(unix.TCSETS, &quiet); err != nil {
		return nil, fmt.Errorf("cannot turn echo off: %w", err)
	}
	defer termios(unix.TCSETS, old)
	// Listening before the prompt shows, so that no signal slips between.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	if _, err := tty.WriteString(prompt); err != nil {
		return nil, err
	}
	type result struct {
		line []byte
		err  error
	}
	read := make(chan result, 1)
	go func() {
		var line []byte
		var b [1]byte
		for {
			n, err := tty.Read(b[:])
			if n == 1 && b[0] != '\n' {
				line = append(line, b[0])
				continue
			}
			if n == 1 || errors.Is(err, io.EOF) {
				read <- result{line: line}
				return
			}
			if err != nil {
				read <- result{err: err}
				return
			}
		}
	}()
	select {
	case r := <-read:
		return trimNewline(r.line), r.err
	case <-sig:
		termios(unix.TCSETS, old)
		tty.WriteString("\n")
		tty.Close() // ends the read
		<-read
		return nil, &exitError{code: 130, msg: "keyctl-go: interrupted"}
	}
}

// passphrasePipe hands the passphrase to a child (the daemon) as
// $KEYCTL_GO_PASSPHRASE_FD: the read end of a pipe it inherits, holding
// the passphrase and then closed. It returns the read end, for
// exec.Cmd.ExtraFiles, and the variable to add to its environment.
func passphrasePipe(pass []byte, fd int) (*os.File, string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	// A pipe holds 64 KiB before a write blocks, more than maxPassphrase,
	// so writing before the child reads cannot block.
	_, err = w.Write(pass)
	w.Close()
	if err != nil {
		r.Close()
		return nil, "", err
	}
	return r, envPassphraseFD + "=" + strconv.Itoa(fd), nil
}

// withoutPassphraseFD is env without $KEYCTL_GO_PASSPHRASE_FD: a program
// started from here does not inherit the descriptor, so the number would
// name some other file of its own.
func withoutPassphraseFD(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, envPassphraseFD+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
