//go:build linux

// Package secretservice is a freedesktop Secret Service (API 0.2,
// org.freedesktop.secrets) served from the keyctl-go store, so that the
// programs people run, secret-tool and everything on libsecret,
// python-secretstorage and python-keyring, zalando/go-keyring, store and
// find their passwords in it, headless: no desktop session, no unlock
// prompt.
//
// # Basics
//
// Connect serves a secrets.Store on a bus (the session bus's address is
// $DBUS_SESSION_BUS_ADDRESS) and claims org.freedesktop.secrets; `keyctl-go
// daemon --secret-service` does so for the user's store. Collections are
// the store's services and items its secrets (package secrets): the
// collection "login", aliased "default", is the service "login", and an
// item made over D-Bus is a secret of that service under a random account
// name, with the label and attributes the client gave. What a program
// stores through package secrets, or `keyctl-go add big_key`, a D-Bus
// client sees, and the other way round; `keyctl-go show @u` shows them
// all.
//
// The methods are rows of one table (methods.go), which drives dispatch
// and introspection. Sessions: "plain" and
// "dh-ietf1024-sha256-aes128-cbc-pkcs7" (dh.go).
//
// # Security
//
// The provider serves only the bus it is connected to, and on it only the
// store owner's uid: every call's sender is checked with the bus's
// GetConnectionUnixUser (the bus took the uid from the kernel when the
// client connected), and another uid is AccessDenied before anything is
// looked up. A session is its opener's alone: another connection naming
// it gets NoSession. Secrets are never logged.
//
// # Where this differs from gnome-keyring, on purpose
//
//   - No prompts, ever: the store is open (its key file, or a passphrase
//     asked once when the daemon starts), so Unlock unlocks at once and
//     returns "/" as the prompt; CreateCollection, Delete and the rest
//     never prompt either. Lock is honest: a locked collection refuses
//     its secrets (IsLocked) and changes until Unlock, and its items
//     are listed as locked. Lock state lives in the provider, and every
//     collection is unlocked when it starts.
//   - Every change is signalled, from the store's notifications, whoever
//     made it: ItemChanged for SetSecret and for a replacing CreateItem
//     (gnome-keyring signals neither), ItemCreated and ItemDeleted, and
//     PropertiesChanged for the collection's Items and the item's
//     properties.
//   - Items of an unlocked collection are listed unlocked; the content
//     type is kept; attributes are exactly what the client gave.
//   - Aliases other than "default" and collection labels set over D-Bus
//     live in the provider and are forgotten when it stops. A collection
//     is named after its label when made; a keyring keeps no times, so a
//     collection's Created and Modified are those of its oldest and newest
//     item.
//   - Item and collection paths are their names, escaped (every byte but
//     [A-Za-z0-9] as _xx); items made over D-Bus are named by 16 random
//     hex digits, gnome-keyring's by a counter.
package secretservice
