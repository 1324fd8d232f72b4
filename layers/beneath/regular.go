package beneath

import (
	"fmt"
	"os"
)

// OpenRegular checks that what was opened is a regular file (a fifo put
// where a file was would block, a device would read the host's).
func OpenRegular(f *os.File, err error) (*os.File, error) {
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file (it is %v)", f.Name(), fi.Mode().Type())
	}
	return f, nil
}
