package layers

import "io/fs"

// ModeString is a change's type and mode as `ls -l` prints them:
// "drwxrwxrwt" for /tmp, "-rwsr-xr-x" for a setuid program, "S" and "T"
// where the special bit is set without the execute bit under it.
func ModeString(t FileType, m fs.FileMode) string {
	c := byte('-')
	switch t {
	case TypeDir:
		c = 'd'
	case TypeSymlink:
		c = 'l'
	case TypeHardlink:
		c = 'h'
	case TypeFIFO:
		c = 'p'
	case TypeChar:
		c = 'c'
	case TypeBlock:
		c = 'b'
	case TypeSocket:
		c = 's'
	}
	const rwx = "rwxrwxrwx"
	buf := [10]byte{c}
	perm := m.Perm()
	for i := 0; i < 9; i++ {
		buf[i+1] = '-'
		if perm&(1<<uint(8-i)) != 0 {
			buf[i+1] = rwx[i]
		}
	}
	special := func(pos int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if buf[pos] == 'x' {
			buf[pos] = lower
		} else {
			buf[pos] = upper
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(buf[:])
}
