package cpim

// item is one header of the merged list described at Message: a header of
// m.Headers written as it is, or one generated from a typed field.
type item struct {
	h      *Header // nil for a generated header
	kind   int
	idx    int    // generated: index into the typed field (not for kRequire)
	prefix string // generated: Name-prefix
}

func (it item) names() (ns, name string) {
	if it.h != nil {
		return it.h.NS, it.h.Name
	}
	return HeaderNamespace, coreNames[it.kind]
}

// typedLen returns how many headers of kind k the typed fields call for.
func (m *Message) typedLen(k int) int {
	switch k {
	case kFrom:
		if m.From != (Address{}) {
			return 1
		}
	case kTo:
		return len(m.To)
	case kCc:
		return len(m.Cc)
	case kDateTime:
		if !m.DateTime.IsZero() {
			return 1
		}
	case kSubject:
		return len(m.Subject)
	case kNS:
		return len(m.NS)
	case kRequire:
		if len(m.Require) > 0 {
			return 1
		}
	}
	return 0
}

// Flags in walk's per-header kind byte.
const (
	eqBit  = 0x80 // the header equals its typed value
	defBit = 0x40 // an NS header that sets the default namespace
)

// classify returns the kind of h, kExt if its name is not one of RFC 3862
// §4 or its value does not decode strictly, and whether it decodes to the
// nth typed value of its kind.
func (m *Message) classify(h *Header, nth int) (kind int, equal, defSwitch bool) {
	k := coreKind(h.NS, h.Name)
	if k == kExt || k != kSubject && len(h.Params) > 0 {
		return kExt, false, false
	}
	switch k {
	case kFrom, kTo, kCc:
		a, msg := parseAddress(h.Value, false)
		if msg != "" {
			return kExt, false, false
		}
		switch {
		case k == kFrom:
			return k, nth == 0 && a == m.From, false
		case k == kTo:
			return k, nth < len(m.To) && a == m.To[nth], false
		}
		return k, nth < len(m.Cc) && a == m.Cc[nth], false
	case kDateTime:
		t, msg := parseDateTime(h.Value, false)
		if msg != "" {
			return kExt, false, false
		}
		return k, nth == 0 && t.Equal(m.DateTime), false
	case kSubject:
		s, ok := subjectLang(h.Params)
		if !ok || valueProblem(h.Value, true) != "" {
			return kExt, false, false
		}
		return k, nth < len(m.Subject) && s.Lang == m.Subject[nth].Lang && Unescape(h.Value) == m.Subject[nth].Value, false
	case kNS:
		ns, msg := parseNS(h.Value, false)
		if msg != "" {
			return kExt, false, false
		}
		return k, nth < len(m.NS) && ns == m.NS[nth], ns.Prefix == ""
	}
	// kRequire: equality is decided for all Require headers together.
	if _, msg := requireNames(h.Value, false, func(string) {}); msg != "" {
		return kExt, false, false
	}
	return k, false, false
}

// walk calls yield for each header of the merged list, in order.
func (m *Message) walk(yield func(item)) {
	var buf [32]uint8
	kinds := buf[:0]
	if len(m.Headers) > len(buf) {
		kinds = make([]uint8, 0, len(m.Headers))
	}
	var count [nKinds]int
	lastNS := -1
	reqNames, reqEqual := 0, true
	for i := range m.Headers {
		h := &m.Headers[i]
		k, eq, def := m.classify(h, count[coreKind(h.NS, h.Name)])
		if k == kRequire {
			requireNames(h.Value, false, func(name string) {
				reqEqual = reqEqual && reqNames < len(m.Require) && m.Require[reqNames] == name
				reqNames++
			})
		}
		if k == kNS {
			lastNS = i
		}
		kb := uint8(k)
		if eq {
			kb |= eqBit
		}
		if def {
			kb |= defBit
		}
		kinds = append(kinds, kb)
		count[k]++
	}
	reqEqual = reqEqual && reqNames == len(m.Require)
	var unplaced uint // kinds with typed values but no header in Headers
	for k := kFrom; k < nKinds; k++ {
		if count[k] == 0 && m.typedLen(k) > 0 {
			unplaced |= 1 << k
		}
	}

	var seen [nKinds]int
	pending := func(k, from int, prefix string) {
		for i := from; i < m.typedLen(k); i++ {
			yield(item{kind: k, idx: i, prefix: prefix})
		}
	}
	for i := range m.Headers {
		h := &m.Headers[i]
		k, eq, defSwitch := int(kinds[i]&^(eqBit|defBit)), kinds[i]&eqBit != 0, kinds[i]&defBit != 0
		rank := k
		if k == kExt {
			rank = nKinds
		}
		for kk := kFrom; unplaced != 0 && kk < nKinds; kk++ {
			// Require refers to prefixes: it goes after the last NS line.
			after := kk != kRequire || i > lastNS
			if unplaced&(1<<kk) != 0 && (after && kk < rank || defSwitch) {
				pending(kk, 0, "")
				unplaced &^= 1 << kk
			}
		}
		if k == kExt {
			yield(item{h: h})
			continue
		}
		j := seen[k]
		seen[k]++
		switch {
		case k == kRequire:
			if reqEqual {
				yield(item{h: h, kind: k})
			} else if j == 0 && len(m.Require) > 0 {
				yield(item{kind: k, prefix: h.Prefix})
			}
		case eq:
			yield(item{h: h, kind: k})
		case j < m.typedLen(k):
			yield(item{kind: k, idx: j, prefix: h.Prefix})
		case j > 0 && (k == kFrom || k == kDateTime):
			yield(item{h: h, kind: k}) // a repeat the typed fields do not hold
		}
		if seen[k] == count[k] && k != kRequire {
			pending(k, count[k], h.Prefix)
		}
	}
	for kk := kFrom; unplaced != 0 && kk < nKinds; kk++ {
		if unplaced&(1<<kk) != 0 {
			pending(kk, 0, "")
		}
	}
}
