//go:build linux

// Package krb5ring keeps Kerberos credential caches in the key store in
// MIT krb5's KEYRING layout, so that what kinit would put in the kernel's
// keyrings lives, with the same names, keys and payloads, in a keyctl-go
// store, and can be watched.
//
// # Basics
//
// A cache name (ParseName) is KEYRING:anchor:collection[:subsidiary]. Open
// resolves a collection as MIT's resolve does: the collection keyring
// (_krb_NAME in the anchor, or _krb in the persistent keyring) and its
// krb_ccache:primary key, made if missing. A Collection lists its caches
// (Caches, primary first), switches the primary (Switch, an in-place
// update that keeps the key's serial) and makes new unique caches
// (NewUnique, krb_ccache_ and 7 random characters).
//
// A Cache is a keyring in the collection holding __krb5_princ__ (one
// version 4 principal), __krb5_time_offsets__ (8 bytes) and one key per
// credential, described by the unparsed server principal and holding the
// version 4 FILE record byte for byte: a user key, or a big_key when the
// record does not fit one. Initialize, Store, RemoveCred and Destroy do
// what MIT's krb5_cc_initialize, krb5_cc_store, krb5_cc_remove_cred and
// kdestroy do, with MIT's timeouts (a key expires at its ticket's endtime,
// the cache keyring at the latest one) and the store's default
// permissions, which are the kernel's add_key defaults MIT relies on.
//
// Replace (and Collection.Import, which picks the cache as kinit does) puts
// a whole ccache.File in a cache; Export gives it back. The store keeps a
// keyring's keys in insertion order, unlike the kernel, so a version 4
// FILE cache comes back byte for byte, configuration entries and removal
// markers included.
//
// Everything goes through a keyring.Caller: a *keyring.Process on a store
// opened in this process, a *keyring.Tx inside one of its transactions
// (Collection.With), or a *daemon.Client. Watch reports a collection's
// changes as Events, through a keyring.Watcher (keyring.QueueWatcher or a
// daemon.Client).
//
// Records, Record, TimeOffset and SetTimeOffset serve a KCM server, which
// speaks in raw version 4 records and per-cache time offsets.
//
// # Caveats
//
//   - Through a Caller that makes transactions (keyring.Atomizer: a
//     *keyring.Process or a *keyring.Tx), every change that takes several
//     operations (Open, Initialize, Store, RemoveCred, Destroy, Replace,
//     NewUnique, Import) is one transaction: one commit, and no reader
//     sees it half done. The daemon has no transactions, so over a
//     *daemon.Client they are separate calls, and Replace builds the new
//     cache keyring under the caller's process keyring and moves it into
//     the collection in one commit (KEYCTL_MOVE displacing the old
//     keyring): readers by name never see an empty or half-written cache,
//     but the cache keyring's serial changes with each Replace; see
//     Replace. Initialize, like MIT, clears in place.
//   - One key per server principal: a FILE cache with two records for one
//     server (possible, since FILE caches append) keeps only the later,
//     and so does not come back byte for byte. Header fields other than
//     the time offset are dropped, and Export always writes version 4.
//   - As in MIT, a cache whose credentials have all expired is given a
//     timeout of 1 s: importing an old cache makes one that expires at
//     once. Options.Now sets the clock the timeouts are computed from.
//   - MIT lists a keyring's keys in the kernel's hash order; tools reading
//     the kernel's keyrings do not keep insertion order. This package
//     only talks to the store.
//   - A Watch reports differences between what it saw and what is there
//     when a record arrives, not each operation: quick successive changes
//     may be merged, and changes undone before it looks are not seen. It
//     holds one key watch per keyring and credential, counted against the
//     caller's watch limit (notify.DefaultWatchLimit); credentials past
//     the limit go unwatched, and only their in-place updates unheard.
//   - Reads (Export, Credentials, Principal) take several calls. They are
//     tried again, up to a bound, when the cache keyring was swapped or a
//     key vanished meanwhile, so they see one keyring's contents; a Store
//     or RemoveCred racing them may still be seen half done.
package krb5ring
