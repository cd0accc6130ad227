//go:build linux

package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// Set stores secret under service and account, creating the item or
// replacing the secret of the one there, whose label and attributes stay.
func (s *Store) Set(ctx context.Context, service, account string, secret []byte) error {
	it, err := s.Lookup(ctx, service, account)
	switch {
	case errors.Is(err, ErrNotFound):
		it = Item{Service: service, Account: account}
	case err != nil:
		return fmt.Errorf("secrets: set %s/%s: %w", service, account, err)
	}
	it.Secret = secret
	it.Expires = time.Time{}
	return s.Put(ctx, it)
}

// Put stores an item whole: its label, attributes, content type, expiry
// and secret, under its service and account, replacing what was there
// (whose Created it keeps). Modified is now. The service's keyring is
// made on first use. A new item is readable and writable by every process
// of the caller's uid (see the package doc).
func (s *Store) Put(ctx context.Context, it Item) error {
	if err := checkItem(&it); err != nil {
		return err
	}
	err := s.retry(func() error { return s.put(ctx, it) })
	if err != nil {
		return fmt.Errorf("secrets: put %s/%s: %w", it.Service, it.Account, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, it Item) error {
	now := s.now()
	it.Created, it.Modified = now, now
	// A record a few bytes over the limit is caught here, with a message
	// naming the item, rather than as add_key's EINVAL.
	if n := recordLen(&it); n > MaxItemLen {
		return fmt.Errorf("%w: the item takes %d bytes, limit %d", ErrInvalid, n, MaxItemLen)
	}
	ring, err := s.serviceRing(ctx, it.Service, true)
	if err != nil {
		return err
	}
	old, err := s.find(ctx, ring, itemType, it.Account, false)
	switch {
	case err == nil:
		var prev Item
		if err := s.read(ctx, old, &prev); err == nil && !prev.Created.IsZero() {
			it.Created = prev.Created
		}
	case errors.Is(err, ErrNotFound):
		err = s.create(ctx, ring, &it, now)
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
		// The name is taken after all: someone stored it meanwhile, or an
		// expired key still holds it until it is collected. Update that.
	default:
		return err
	}
	// add_key updates the key in place: same serial, and its watchers
	// hear KeyUpdated. It also makes the key permanent again.
	id, err := s.c.Add(ctx, itemType, it.Account, appendRecord(nil, &it), ring)
	if err != nil {
		return err
	}
	return s.setExpiry(ctx, id, it.Expires, now)
}

// create makes a new item's key where only this caller sees it, its
// thread keyring, gives it the owner's mask and expiry there, and moves it
// into the service's keyring unless that holds one of its name by then
// (EEXIST). add_key straight into the service's keyring would give the
// key the kernel's default mask, which its user may only View, and a
// caller that does not possess the keyring could not set another.
func (s *Store) create(ctx context.Context, ring keyring.Serial, it *Item, now time.Time) error {
	id, err := s.c.Add(ctx, itemType, it.Account, appendRecord(nil, it), keyring.ThreadKeyring)
	if err != nil {
		return err
	}
	err = s.c.SetPerm(ctx, id, ownerMask)
	if err == nil {
		err = s.setExpiry(ctx, id, it.Expires, now)
	}
	if err == nil {
		err = s.c.Move(ctx, id, keyring.ThreadKeyring, ring, keyring.MoveExclusive)
	}
	if err != nil {
		s.c.Unlink(ctx, id, keyring.ThreadKeyring)
	}
	return err
}

// setExpiry sets a key's expiry, if it has one (add_key's update has
// made it permanent).
func (s *Store) setExpiry(ctx context.Context, id keyring.Serial, expires, now time.Time) error {
	if expires.IsZero() {
		return nil
	}
	d := expires.Sub(now)
	if d < time.Second {
		d = time.Second // the store's expiry is in whole seconds; 0 is "never"
	}
	return s.c.SetTimeout(ctx, id, d)
}

// checkItem checks an item's names and strings before anything is
// written. D-Bus carries only UTF-8, so labels and attributes must be.
func checkItem(it *Item) error {
	if err := checkNames(it.Service, it.Account); err != nil {
		return err
	}
	if !utf8.ValidString(it.Label) || !utf8.ValidString(it.ContentType) {
		return fmt.Errorf("%w: label or content type of %s/%s is not UTF-8", ErrInvalid, it.Service, it.Account)
	}
	for k, v := range it.Attributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: attribute %q of %s/%s is not UTF-8", ErrInvalid, k, it.Service, it.Account)
		}
	}
	it.Attributes = maps.Clone(it.Attributes)
	return nil
}

// Get returns the secret stored under service and account; ErrNotFound if
// there is none.
func (s *Store) Get(ctx context.Context, service, account string) (Secret, error) {
	it, err := s.Lookup(ctx, service, account)
	if err != nil {
		return nil, err
	}
	return it.Secret, nil
}

// Lookup returns the item stored under service and account, secret
// included; ErrNotFound if there is none.
func (s *Store) Lookup(ctx context.Context, service, account string) (Item, error) {
	if err := checkNames(service, account); err != nil {
		return Item{}, err
	}
	var it Item
	err := s.retry(func() error {
		ring, err := s.serviceRing(ctx, service, false)
		if err != nil {
			return err
		}
		id, err := s.find(ctx, ring, itemType, account, false)
		if err != nil {
			return err
		}
		return s.read(ctx, id, &it)
	})
	if err != nil {
		return Item{}, fmt.Errorf("secrets: get %s/%s: %w", service, account, err)
	}
	it.Service, it.Account = service, account
	return it, nil
}

// read reads and decodes one item's key.
func (s *Store) read(ctx context.Context, id keyring.Serial, it *Item) error {
	b, err := s.c.Read(ctx, id)
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("%w: key %d: %w", ErrNotFound, id, err)
		}
		return err
	}
	return decodeRecord(b, it)
}

// Delete removes the secret stored under service and account; ErrNotFound
// if there is none.
func (s *Store) Delete(ctx context.Context, service, account string) error {
	if err := checkNames(service, account); err != nil {
		return err
	}
	err := s.retry(func() error {
		ring, err := s.serviceRing(ctx, service, false)
		if err != nil {
			return err
		}
		id, err := s.find(ctx, ring, itemType, account, false)
		if err != nil {
			return err
		}
		return s.c.Unlink(ctx, id, ring)
	})
	if err != nil {
		return fmt.Errorf("secrets: delete %s/%s: %w", service, account, err)
	}
	return nil
}

// List returns a service's items in the order they were first stored,
// without their secrets. A service with no keyring has none.
func (s *Store) List(ctx context.Context, service string) ([]Item, error) {
	return s.Find(ctx, service, nil)
}

// Find returns the items of a service whose attributes include every pair
// of attrs (all of them, if attrs is empty), without their secrets.
func (s *Store) Find(ctx context.Context, service string, attrs map[string]string) ([]Item, error) {
	if err := checkService(service); err != nil {
		return nil, err
	}
	var items []Item
	err := s.retry(func() error {
		items = items[:0]
		return s.each(ctx, service, func(id keyring.Serial, it Item) error {
			if it.matches(attrs) {
				it.Secret = nil
				items = append(items, it)
			}
			return nil
		})
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: list %s: %w", service, err)
	}
	return items, nil
}

// each calls fn with every item of a service and its key, secret
// included, in the keyring's order. Keys that went away meanwhile are
// skipped.
func (s *Store) each(ctx context.Context, service string, fn func(keyring.Serial, Item) error) error {
	ring, err := s.serviceRing(ctx, service, false)
	if err != nil {
		return err
	}
	return s.described(ctx, ring, func(id keyring.Serial, d keyring.Description) error {
		if d.Type != itemType {
			return nil
		}
		var it Item
		if err := s.read(ctx, id, &it); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return fmt.Errorf("%s: %w", d.Description, err)
		}
		it.Service, it.Account = service, d.Description
		return fn(id, it)
	})
}
