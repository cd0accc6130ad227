//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// RootName is the description of the keyring, in the caller's user
// keyring (@u), that holds one keyring per service.
const RootName = "secrets"

// MaxNameLen is the longest service or account name: a key's
// description.
const MaxNameLen = keyring.MaxDescriptionLen // bytes

// itemType is the key type of every secret: a big_key takes up to a MiB
// and is charged the same few bytes of quota whatever its size, so a
// secret's size does not eat a user's byte quota.
const itemType = "big_key"

// ownerMask is what the secrets tree grants: everything to its possessor
// and to its owner's uid, nothing to anyone else. The user byte is what
// lets every process of the owner read without possessing the key (the
// kernel's default mask gives the user View alone).
var ownerMask = perms.NewMask(perms.All, perms.All, 0, 0)

// Store keeps secrets by service and account for one user, through a
// keyring.Caller: a *keyring.Process on a store this program opened, or a
// *daemon.Client. It is safe for concurrent use.
type Store struct {
	c   keyring.Caller
	now func() time.Time

	// ringMu makes one keyring at a time: they are staged in the caller's
	// thread keyring, where a second of the same name would displace the
	// first. Lock order: ringMu before mu.
	ringMu sync.Mutex

	mu    sync.Mutex
	root  keyring.Serial            // 0 until found
	rings map[string]keyring.Serial // service keyrings found so far
}

// Options configure a Store. The zero value is the usual.
type Options struct {
	// Now is the clock for Created and Modified; nil means time.Now.
	Now func() time.Time
}

// New returns a Store acting through c, as c's user.
func New(c keyring.Caller, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{c: c, now: opts.Now, rings: make(map[string]keyring.Serial)}
}

// checkService checks a service name: a keyring's description that add_key
// accepts.
func checkService(service string) error {
	switch {
	case service == "":
		return fmt.Errorf("%w: empty service name", ErrInvalid)
	case service[0] == '.':
		return fmt.Errorf("%w: service %q starts with '.', which names the kernel's own keyrings", ErrInvalid, service)
	case len(service) > MaxNameLen:
		return fmt.Errorf("%w: service name of %d bytes, limit %d", ErrInvalid, len(service), MaxNameLen)
	case !utf8.ValidString(service):
		return fmt.Errorf("%w: service name %q is not UTF-8", ErrInvalid, service)
	}
	return nil
}

func checkNames(service, account string) error {
	if err := checkService(service); err != nil {
		return err
	}
	switch {
	case account == "":
		return fmt.Errorf("%w: empty account name in service %q", ErrInvalid, service)
	case len(account) > MaxNameLen:
		return fmt.Errorf("%w: account name of %d bytes, limit %d", ErrInvalid, len(account), MaxNameLen)
	case !utf8.ValidString(account):
		return fmt.Errorf("%w: account name %q is not UTF-8", ErrInvalid, account)
	}
	return nil
}

// notFound reports whether err says a key is not there (any more).
func notFound(err error) bool {
	return errors.Is(err, unix.ENOKEY) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EKEYREVOKED)
}

// rootRing finds the caller's secrets keyring, making it if create is set;
// without it, a missing keyring is ErrNotFound.
func (s *Store) rootRing(ctx context.Context, create bool) (keyring.Serial, error) {
	s.mu.Lock()
	root := s.root
	s.mu.Unlock()
	if root != 0 {
		return root, nil
	}
	root, err := s.ring(ctx, keyring.UserKeyring, RootName, create)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.root = root
	s.mu.Unlock()
	return root, nil
}

// serviceRing finds a service's keyring, making it (and the root) if
// create is set.
func (s *Store) serviceRing(ctx context.Context, service string, create bool) (keyring.Serial, error) {
	s.mu.Lock()
	id, ok := s.rings[service]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	root, err := s.rootRing(ctx, create)
	if err != nil {
		return 0, err
	}
	id, err = s.ring(ctx, root, service, create)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.rings[service] = id
	s.mu.Unlock()
	return id, nil
}

// forget drops what the Store remembers of keyrings, after an operation
// found one gone (deleted by someone else); the next finds them afresh.
func (s *Store) forget() {
	s.mu.Lock()
	s.root = 0
	clear(s.rings)
	s.mu.Unlock()
}

// retry runs fn, and once more after forgetting the keyrings found so far
// if it failed because one of them was gone.
func (s *Store) retry(fn func() error) error {
	err := fn()
	if err != nil && notFound(err) {
		s.forget()
		err = fn()
	}
	return err
}

// ring finds the keyring named name directly in parent, or makes it.
//
// A keyring is made where nobody sees it, in the caller's thread keyring,
// given the owner's mask there, and moved into parent with MoveExclusive:
// add_key of a keyring displaces one of the same name, so two processes
// making the root at once would otherwise each make their own, and the
// secrets stored in the first would go with it.
func (s *Store) ring(ctx context.Context, parent keyring.Serial, name string, create bool) (keyring.Serial, error) {
	id, err := s.find(ctx, parent, "keyring", name, true)
	if err == nil || !errors.Is(err, ErrNotFound) || !create {
		return id, err
	}
	s.ringMu.Lock()
	defer s.ringMu.Unlock()
	for {
		id, err := s.find(ctx, parent, "keyring", name, true)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return id, err
		}
		staged, err := s.c.Add(ctx, "keyring", name, nil, keyring.ThreadKeyring)
		if err != nil {
			return 0, fmt.Errorf("secrets: make keyring %q: %w", name, err)
		}
		err = s.c.SetPerm(ctx, staged, ownerMask)
		if err == nil {
			err = s.c.Move(ctx, staged, keyring.ThreadKeyring, parent, keyring.MoveExclusive)
		}
		if err == nil {
			return staged, nil
		}
		// Lost the race (EEXIST), or failed: the staged keyring goes.
		s.c.Unlink(ctx, staged, keyring.ThreadKeyring)
		if !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("secrets: make keyring %q: %w", name, err)
		}
	}
}

// find looks for a key of type typ named name held by ring itself, if
// exact, else by ring or a keyring below it. Search looks at the ring's
// own keys first, so a hit elsewhere means there is none in ring itself;
// exact costs listing the ring, so only keyrings are looked up that way.
func (s *Store) find(ctx context.Context, ring keyring.Serial, typ, name string, exact bool) (keyring.Serial, error) {
	id, err := s.c.Search(ctx, ring, typ, name, 0)
	if err != nil {
		if errors.Is(err, unix.EKEYEXPIRED) {
			return 0, fmt.Errorf("%w: %s %q expired: %w", ErrNotFound, typ, name, err)
		}
		if notFound(err) {
			return 0, fmt.Errorf("%w: %s %q", ErrNotFound, typ, name)
		}
		return 0, err
	}
	if !exact {
		return id, nil
	}
	keys, err := s.c.Keys(ctx, ring)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if k == id {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: %s %q", ErrNotFound, typ, name)
}

// described calls fn with each key ring holds and its description, in the
// keyring's order, skipping keys that went away between the listing and
// their description.
func (s *Store) described(ctx context.Context, ring keyring.Serial, fn func(keyring.Serial, keyring.Description) error) error {
	keys, err := s.c.Keys(ctx, ring)
	if err != nil {
		return err
	}
	for _, id := range keys {
		d, err := s.c.Describe(ctx, id)
		if notFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(id, d); err != nil {
			return err
		}
	}
	return nil
}

// Services lists the services that have a keyring, in the order they were
// made.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	var names []string
	err := s.retry(func() error {
		names = nil
		root, err := s.rootRing(ctx, false)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.described(ctx, root, func(_ keyring.Serial, d keyring.Description) error {
			if d.Type == "keyring" {
				names = append(names, d.Description)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("secrets: list services: %w", err)
	}
	return names, nil
}

// CreateService makes a service's keyring if it has none, so that it is
// listed (and watched) before its first secret is stored. Storing a secret
// makes it too.
func (s *Store) CreateService(ctx context.Context, service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	err := s.retry(func() error {
		_, err := s.serviceRing(ctx, service, true)
		return err
	})
	if err != nil {
		return fmt.Errorf("secrets: create service %q: %w", service, err)
	}
	return nil
}

// DeleteService removes a service's keyring, and with it every secret in
// it that nothing else holds.
func (s *Store) DeleteService(ctx context.Context, service string) error {
	if err := checkService(service); err != nil {
		return err
	}
	err := s.retry(func() error {
		root, err := s.rootRing(ctx, false)
		if err != nil {
			return err
		}
		id, err := s.serviceRing(ctx, service, false)
		if err != nil {
			return err
		}
		return s.c.Unlink(ctx, id, root)
	})
	s.forget()
	if err != nil {
		return fmt.Errorf("secrets: delete service %q: %w", service, err)
	}
	return nil
}
