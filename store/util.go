package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

var errLockTimeout = errors.New("lock timeout")

// jsonObject reports whether s is one JSON object.
func jsonObject(s string) bool {
	return json.Valid([]byte(s)) && strings.HasPrefix(strings.TrimLeft(s, " \t\r\n"), "{")
}

// netFSMagic maps statfs(2) f_type values of network and cluster file
// systems (linux/magic.h and the vendors' own) to a name for messages.
var netFSMagic = map[uint32]string{
	0x6969:     "NFS",
	0x517b:     "SMB",
	0xff534d42: "CIFS",
	0xfe534d42: "SMB2",
	0x0bd00bd0: "Lustre",
	0x47504653: "GPFS",
	0x00c36400: "CephFS",
	0x5346414f: "AFS",
	0x6b414653: "AFS",
	0x73757245: "Coda",
	0x01021997: "9P",
	0x564c:     "NCP",
	0x19830326: "BeeGFS",
	0x20030528: "OrangeFS",
}

func netFSName(magic uint32) string { return netFSMagic[magic] }

// kindError is a message for the user that errors.Is matches against a
// sentinel without repeating the sentinel's text.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// errorf formats a message that matches kind under errors.Is.
func errorf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// seconds spells a timeout for a message: "60s", "0.4s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}
