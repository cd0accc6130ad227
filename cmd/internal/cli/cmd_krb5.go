//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyctl-go/keyctl-go/ccache"
	"github.com/keyctl-go/keyctl-go/krb5ring"
)

// krb5Usage is printed for a misused krb5 command. It is keyctl-go's own
// command, so it has its own usage rather than keyctl's Format listing.
const krb5Usage = `Format:
  keyctl-go krb5 import <FILE> [<KEYRING name>]
  keyctl-go krb5 export <KEYRING name> <FILE>
  keyctl-go krb5 list [<KEYRING name>]
  keyctl-go krb5 switch <KEYRING name>
  keyctl-go krb5 destroy [-A] [<KEYRING name>]
  keyctl-go krb5 watch [<KEYRING name>]

A KEYRING name is MIT's: KEYRING:anchor:collection[:cache]. Without a cache
part it means the collection (its primary cache, for export and destroy).
The default is $KRB5CCNAME if it is a KEYRING name, else
KEYRING:persistent:<uid>.`

// krb5Commands are the krb5 subcommands.
var krb5Commands = map[string]func(ctx context.Context, a *app, args []string) error{
	"import":  cmdKrb5Import,
	"export":  cmdKrb5Export,
	"list":    cmdKrb5List,
	"switch":  cmdKrb5Switch,
	"destroy": cmdKrb5Destroy,
	"watch":   cmdKrb5Watch,
}

// cmdKrb5 is `krb5 <subcommand> ...`: Kerberos credential caches kept in
// the store in MIT's KEYRING layout (package krb5ring).
func cmdKrb5(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errKrb5Usage
	}
	run := krb5Commands[args[0]]
	if run == nil {
		return errKrb5Usage
	}
	return run(ctx, a, args[1:])
}

var errKrb5Usage = &exitError{code: 2, msg: krb5Usage}

// krb5Fail ends a krb5 command with exit 1 and a message naming it.
func krb5Fail(sub string, err error) error {
	return &exitError{code: 1, msg: "keyctl-go krb5 " + sub + ": " + err.Error()}
}

// krb5Name parses a KEYRING name argument, or the default when arg is "".
func (a *app) krb5Name(arg string) (krb5ring.Name, error) {
	if arg == "" {
		if env := a.getenv("KRB5CCNAME"); strings.HasPrefix(env, "KEYRING:") {
			arg = env
		} else {
			arg = "KEYRING:persistent:" + strconv.FormatUint(uint64(a.cred().UID), 10)
		}
	}
	return krb5ring.ParseName(arg)
}

// krb5Open parses the name and opens its collection.
func (a *app) krb5Open(ctx context.Context, arg string) (*krb5ring.Collection, krb5ring.Name, error) {
	name, err := a.krb5Name(arg)
	if err != nil {
		return nil, name, err
	}
	p, err := a.process(ctx)
	if err != nil {
		return nil, name, err
	}
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{})
	return col, name, err
}

// krb5Cache is the cache name names: itself, or its collection's primary.
func krb5Cache(ctx context.Context, col *krb5ring.Collection, name krb5ring.Name) (*krb5ring.Cache, error) {
	if name.IsCollection() {
		return col.PrimaryCache(ctx)
	}
	return col.Cache(name.Subsidiary), nil
}

// filePath takes an optional "FILE:" off a cache file argument.
func filePath(arg string) string { return strings.TrimPrefix(arg, "FILE:") }

// cmdKrb5Import is `krb5 import <FILE> [<KEYRING name>]`: put a FILE cache
// into the store. A collection name picks the cache as kinit would (the
// principal's own cache, else the primary if empty, else a new one) and
// makes it primary; a cache name is replaced. It prints the cache's name.
func cmdKrb5Import(ctx context.Context, a *app, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errKrb5Usage
	}
	f, err := ccache.ReadFile(filePath(args[0]))
	if err != nil {
		return krb5Fail("import", err)
	}
	var nameArg string
	if len(args) == 2 {
		nameArg = args[1]
	}
	col, name, err := a.krb5Open(ctx, nameArg)
	if err != nil {
		return krb5Fail("import", err)
	}
	var k *krb5ring.Cache
	if name.IsCollection() {
		k, err = col.Import(ctx, f)
	} else {
		k = col.Cache(name.Subsidiary)
		err = k.Replace(ctx, f)
	}
	if err != nil {
		return krb5Fail("import", err)
	}
	fmt.Fprintln(a.stdout, k.Name())
	return nil
}

// cmdKrb5Export is `krb5 export <KEYRING name> <FILE>`: write a cache out
// as a version 4 FILE cache, replacing the file as kinit does.
func cmdKrb5Export(ctx context.Context, a *app, args []string) error {
	if len(args) != 2 {
		return errKrb5Usage
	}
	col, name, err := a.krb5Open(ctx, args[0])
	if err != nil {
		return krb5Fail("export", err)
	}
	k, err := krb5Cache(ctx, col, name)
	if err != nil {
		return krb5Fail("export", err)
	}
	f, err := k.Export(ctx)
	if err != nil {
		return krb5Fail("export", err)
	}
	if err := ccache.WriteFile(filePath(args[1]), f); err != nil {
		return krb5Fail("export", err)
	}
	return nil
}

// cmdKrb5List is `krb5 list [<KEYRING name>]`: the collection's caches in
// klist -l's table, primary first; "(Expired)" as klist decides it. A
// cache name lists that cache alone, as MIT's cursor does for one. As
// klist, it exits 1 when no cache has a principal to list.
func cmdKrb5List(ctx context.Context, a *app, args []string) error {
	nameArg, err := optionalCacheName(args)
	if err != nil {
		return err
	}
	col, name, err := a.krb5Open(ctx, nameArg)
	if err != nil {
		return krb5Fail("list", err)
	}
	caches := []*krb5ring.Cache{col.Cache(name.Subsidiary)}
	if name.IsCollection() {
		if caches, err = col.Caches(ctx); err != nil {
			return krb5Fail("list", err)
		}
	}
	fmt.Fprintf(a.stdout, "%-30s %s\n", "Principal name", "Cache name")
	fmt.Fprintf(a.stdout, "%-30s %s\n", "--------------", "----------")
	listed := false
	now := time.Now()
	for _, k := range caches {
		f, err := k.Export(ctx)
		if err != nil {
			continue // uninitialised or gone meanwhile: klist skips it too
		}
		princ := f.DefaultPrincipal.String()
		if len(princ) > 30 {
			princ = princ[:30] // klist's %-30.30s
		}
		line := fmt.Sprintf("%-30s %s", princ, k.Name())
		if expired(f, now) {
			line += " (Expired)"
		}
		fmt.Fprintln(a.stdout, line)
		listed = true
	}
	if !listed {
		return &exitError{code: 1}
	}
	return nil
}

// expired is klist's check_ccache: a cache holding a local TGT is expired
// when no such TGT is current; otherwise when no credential but
// configuration entries is.
func expired(f *ccache.File, now time.Time) bool {
	realm := f.DefaultPrincipal.Realm
	var tgt, currentTGT, current bool
	for i := range f.Credentials {
		c := &f.Credentials[i]
		live := int64(c.EndTime) > now.Unix()
		s := c.Server
		switch {
		case s.Realm == realm && len(s.Components) == 2 && s.Components[0] == "krbtgt" && s.Components[1] == realm:
			tgt = true
			currentTGT = currentTGT || live
		case !c.IsConfig() && live:
			current = true
		}
	}
	if tgt {
		return !currentTGT
	}
	return !current
}

// cmdKrb5Switch is `krb5 switch <KEYRING name>` (kswitch): make the named
// cache its collection's primary.
func cmdKrb5Switch(ctx context.Context, a *app, args []string) error {
	if len(args) != 1 {
		return errKrb5Usage
	}
	col, name, err := a.krb5Open(ctx, args[0])
	if err != nil {
		return krb5Fail("switch", err)
	}
	if name.IsCollection() {
		return krb5Fail("switch", fmt.Errorf("%s names a collection, not a cache in it", name))
	}
	if _, err := col.Cache(name.Subsidiary).Principal(ctx); err != nil {
		return krb5Fail("switch", err)
	}
	if err := col.Switch(ctx, name.Subsidiary); err != nil {
		return krb5Fail("switch", err)
	}
	return nil
}

// cmdKrb5Destroy is `krb5 destroy [-A] [<KEYRING name>]` (kdestroy): destroy
// the named cache (a collection's primary), or with -A every cache of the
// collection.
func cmdKrb5Destroy(ctx context.Context, a *app, args []string) error {
	all, args := leadingFlag(args, "-A")
	nameArg, err := optionalCacheName(args)
	if err != nil {
		return err
	}
	col, name, err := a.krb5Open(ctx, nameArg)
	if err != nil {
		return krb5Fail("destroy", err)
	}
	var caches []*krb5ring.Cache
	if all {
		if caches, err = col.Caches(ctx); err != nil {
			return krb5Fail("destroy", err)
		}
	} else {
		k, err := krb5Cache(ctx, col, name)
		if err != nil {
			return krb5Fail("destroy", err)
		}
		caches = []*krb5ring.Cache{k}
	}
	for _, k := range caches {
		if err := k.Destroy(ctx); err != nil {
			return krb5Fail("destroy", err)
		}
	}
	return nil
}

// cmdKrb5Watch is `krb5 watch [<KEYRING name>]`: one line per change in
// the collection (krb5ring.Event's text), or only those about the named
// cache, until interrupted or the collection is destroyed. Like watch, it
// goes through the store's daemon, starting it if none answers, so that
// it hears every other invocation's changes. Its first line, "watching
// NAME", says the watches are set.
func cmdKrb5Watch(ctx context.Context, a *app, args []string) error {
	nameArg, err := optionalCacheName(args)
	if err != nil {
		return err
	}
	name, err := a.krb5Name(nameArg)
	if err != nil {
		return krb5Fail("watch", err)
	}
	if err := a.ensureDaemon(ctx); err != nil {
		return krb5Fail("watch", err)
	}
	p, err := a.process(ctx)
	if err != nil {
		return krb5Fail("watch", err)
	}
	if !p.Route().Step.Remote() {
		return krb5Fail("watch", errors.New("no daemon to watch through"))
	}
	col, err := krb5ring.Open(ctx, p, name, krb5ring.Options{})
	if err != nil {
		return krb5Fail("watch", err)
	}
	w, err := col.Watch(ctx, p)
	if err != nil {
		return krb5Fail("watch", err)
	}
	defer w.Close()
	if err := a.krb5Line("watching " + name.String()); err != nil {
		return err
	}
	for e, err := range w.Events(ctx) {
		if err != nil {
			if ctx.Err() != nil {
				return nil // SIGTERM or SIGINT ends the watch
			}
			return krb5Fail("watch", err)
		}
		if !name.IsCollection() && e.Cache != name && e.Op != krb5ring.EventsLost && e.Op != krb5ring.CollectionDestroyed {
			continue
		}
		if err := a.krb5Line(e.String()); err != nil {
			return err
		}
	}
	return nil
}

// krb5Line prints a line and flushes it, so a reader of the watcher sees
// each change as it comes.
func (a *app) krb5Line(s string) error {
	fmt.Fprintln(a.stdout, s)
	return a.stdout.Flush()
}

// optionalCacheName is the one optional <KEYRING name> argument of list,
// destroy and watch: "" when absent, the default collection's.
func optionalCacheName(args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", nil
	case 1:
		return args[0], nil
	}
	return "", errKrb5Usage
}
