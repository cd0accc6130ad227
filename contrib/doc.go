// Package contrib holds no code. Its files are what packagers install
// beside the keyctl-go binary: systemd units for the system daemon and for
// per-user daemons (systemd/system, systemd/user), the user the system
// daemon runs as (sysusers.d) and its socket directory (tmpfiles.d). Its
// tests check them with systemd's own tools.
package contrib
