package cpim

import (
	"sync/atomic"
	"time"
)

// parseDateTime parses an RFC 3339 date-time (RFC 3862 §4.4). It accepts
// lower-case "t" and "z" (RFC 3339 §5.6 note), fractions of any length
// (digits beyond nanoseconds are dropped), the leap second 60 in minute 59
// (time.Time has no leap seconds, so it becomes the next minute's :00) and
// "-00:00" (unknown local offset, §4.3) as UTC. Leniently a space may
// replace the "T".
func parseDateTime(s string, lenient bool) (time.Time, string) {
	const bad = "DateTime is not an RFC 3339 date-time"
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, bad
	}
	switch s[10] {
	case 'T', 't':
	case ' ':
		if !lenient {
			return time.Time{}, bad
		}
	default:
		return time.Time{}, bad
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	min, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, bad
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || min > 59 || sec > 60 || sec == 60 && min != 59 {
		return time.Time{}, "DateTime has a field out of range"
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		start := i
		for scale := 100000000; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			nsec += int(s[i]-'0') * scale
			scale /= 10
		}
		if i == start {
			return time.Time{}, bad
		}
	}
	var loc *time.Location
	switch rest := s[i:]; {
	case rest == "Z" || rest == "z":
		loc = time.UTC
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, bad
		}
		off := oh*60 + om
		if rest[0] == '-' {
			off = -off
		}
		loc = zone(off)
	default:
		return time.Time{}, bad
	}
	return time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc), ""
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// zones caches one *time.Location per UTC offset in minutes, so parsing a
// DateTime does not allocate. The table is bounded by the ±23:59 range.
var zones [2*24*60 - 1]atomic.Pointer[time.Location]

func zone(offMin int) *time.Location {
	if offMin == 0 {
		return time.UTC
	}
	p := &zones[offMin+24*60-1]
	if l := p.Load(); l != nil {
		return l
	}
	l := time.FixedZone("", offMin*60)
	p.Store(l)
	return l
}

// appendDateTime appends t as an RFC 3339 date-time with as many fraction
// digits as needed to represent it exactly. RFC 3339 offsets have no
// seconds, so a time in a zone whose offset does (local mean time before
// 1900, say) is written in UTC.
func appendDateTime(b []byte, t time.Time) []byte {
	if _, off := t.Zone(); off%60 != 0 {
		t = t.UTC()
	}
	return t.AppendFormat(b, time.RFC3339Nano)
}
