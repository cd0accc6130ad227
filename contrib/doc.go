//go:build linux

// Package contrib holds no code. Its files are what packagers install
// beside the keyctl-go binary: systemd units for the system daemon and for
// per-user daemons (systemd/system, systemd/user, with the drop-in that
// makes a user's daemon the Secret Service too), the user the system
// daemon runs as (sysusers.d) and its socket directory (tmpfiles.d), and
// the session bus's activation file for the Secret Service (dbus). Its
// tests check the systemd files with systemd's own tools.
package contrib
