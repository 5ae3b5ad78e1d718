/*  pp_phone - US phone numbers: libphonenumber's numbering plan plus our lead-quality rules  */
/*  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.  */

//  A thin C++ shim over libphonenumber: everything here is reached through
//  the extern "C" API of pp_phone.h, and no exception crosses it.
//
//  Why not simply PhoneNumberUtil::Parse, IsValidNumber and GetNumberType?
//  Debian builds libphonenumber with ICU regular expressions, and those three
//  calls cost about 90 us per number (every pattern match builds an
//  icu::RegexMatcher over a UTF-16 copy of the digits), while validate's
//  budget for a whole lead is 20 us. So:
//  - the text is parsed here, strictly, into ten digits: we take US numbers
//    written in ASCII only, and the library's lenient parser buys nothing;
//  - the numbering plan is the library's own: the PhoneMetadataCollection
//    compiled into libphonenumber (the one PhoneNumberUtil loads), each of
//    its patterns compiled once into a deterministic automaton over the ten
//    digits (the patterns are plain regular expressions: classes, groups,
//    alternation and counts), and matched by the library's own algorithm,
//    the region loop of GetRegionCodeForNumber and GetNumberTypeHelper: well
//    under a microsecond, lock-free, no allocation;
//  - pp_phone_plan_reference asks PhoneNumberUtil itself, and the unit tests
//    hold the two equal over every area code.
//  When the tables cannot be built (a library without metadata_get, a pattern
//  outside that syntax), every lookup uses the library's API: slower, never
//  wrong.

#include "pp_phone.h"

#include <czmq.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <list>
#include <map>
#include <string>
#include <vector>

#include <phonenumbers/phonemetadata.pb.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#ifdef PP_PHONE_HAVE_METADATA_GET
//  The compiled-in metadata, exported by libphonenumber but declared in a
//  header it does not install (src/phonenumbers/metadata.h).
namespace i18n {
namespace phonenumbers {
int metadata_size ();
const void *metadata_get ();
}
}
#endif

using i18n::phonenumbers::PhoneMetadata;
using i18n::phonenumbers::PhoneMetadataCollection;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberDesc;
using i18n::phonenumbers::PhoneNumberUtil;

//  Digits a NANP national number has.
#define S_NATIONAL 10
//  Most digits we collect from the text; more makes it invalid anyway.
#define S_MAX_DIGITS 20
//  Longest national number libphonenumber handles (its private kMaxLengthForNsn).
#define S_MAX_NSN 17

//  The kinds of number GetNumberTypeHelper tries, in its order, before
//  fixed line and mobile.
enum {
    S_PREMIUM,
    S_TOLL_FREE,
    S_SHARED_COST,
    S_VOIP,
    S_PERSONAL,
    S_PAGER,
    S_UAN,
    S_VOICEMAIL,
    S_KINDS
};

//  A pattern compiled into a deterministic automaton over the digits: state
//  0 is the start, a transition to -1 means no match is possible any more.
//  Matching ten digits is ten table lookups: no lock, no allocation.
struct s_dfa_t {
    std::vector<std::array<int32_t, 10>> next;  //  next [state][digit]
    std::vector<bool> accept;   //  accept [state]: the digits so far match the whole pattern
};

//  One PhoneNumberDesc of a region, ready to match ten digits.
struct s_desc_t {
    const s_dfa_t *dfa;         //  its pattern; NULL: no ten-digit number matches.  Not owned
};

//  One region of country code 1, as GetRegionCodeForNumber sees it.
struct s_region_t {
    char id [PP_PHONE_REGION_SIZE];     //  "US", "PR", ...
    const s_dfa_t *leading;     //  leading_digits (prefix match), NULL when none.  Not owned
    bool same_mobile_fixed;     //  same_mobile_and_fixed_line_pattern
    s_desc_t general;           //  general_desc
    s_desc_t kinds [S_KINDS];   //  premium_rate .. voicemail
    s_desc_t fixed;             //  fixed_line
    s_desc_t mobile;            //  mobile
};

//  The tables, built once and kept for the life of the process (like
//  libphonenumber's own singleton), so no thread ever sees them go.
struct s_plan_t {
    bool ready;                 //  the fast path may be used
    std::vector<s_region_t> regions;    //  country code 1's regions, in the library's order
    std::map<std::string, s_dfa_t *> compiled;  //  each distinct pattern, compiled once
};

//  Most automaton states one pattern may take (the NANP's largest takes 165,
//  all 109 of its patterns 2,512 together).
#define S_MAX_STATES 100000

//  ---------------------------------------------------------------------------
//  A Thompson NFA built while parsing a libphonenumber pattern. The metadata
//  patterns are regular expressions over digits: literals, classes ([2-9],
//  \d), groups ((?:...) and (...)), alternation and the counts {n}, {n,m}
//  and ? (the NANP's patterns use {n} only, today). Anything else (another
//  escape, a negated class, an unbounded count, anchors, a letter, a
//  lookaround) throws s_unsupported, and with it the fast path goes: the set
//  of digit strings matched must be exactly the library's. A counted atom is
//  parsed again for each copy, so every copy has states of its own.

struct s_unsupported {};

struct s_nfa_state_t {
    uint16_t digits;            //  digits that lead to `to`: bit d for digit d; 0 for none
    int to;                     //  where those digits lead
    std::vector<int> empty;     //  states reached without reading a digit
};

struct s_fragment_t {
    int start;                  //  entry state
    int end;                    //  exit state: its `empty` list is still open
};

class s_nfa_builder {
  public:
    explicit s_nfa_builder (const std::string &pattern) : text (pattern), pos (0) {}

    //  Parse the whole pattern into states; returns the accepting state.
    int
    build (int *start)
    {
        s_fragment_t whole = alternation ();
        if (pos != text.size ())
            throw s_unsupported ();
        *start = whole.start;
        return whole.end;
    }

    std::vector<s_nfa_state_t> states;  //  the automaton

  private:
    const std::string &text;    //  the pattern
    size_t pos;                 //  next character to read

    int
    state (void)
    {
        if (states.size () >= S_MAX_STATES * 10)
            throw s_unsupported ();
        states.push_back (s_nfa_state_t {0, -1, {}});
        return (int) states.size () - 1;
    }

    s_fragment_t
    empty_fragment (void)
    {
        int only = state ();
        return s_fragment_t {only, only};
    }

    //  a, then b.
    s_fragment_t
    join (s_fragment_t a, s_fragment_t b)
    {
        states [a.end].empty.push_back (b.start);
        return s_fragment_t {a.start, b.end};
    }

    //  a, or nothing.
    s_fragment_t
    optional (s_fragment_t a)
    {
        int start = state (), end = state ();
        states [start].empty.push_back (a.start);
        states [start].empty.push_back (end);
        states [a.end].empty.push_back (end);
        return s_fragment_t {start, end};
    }

    bool
    at (char c) const
    {
        return pos < text.size () && text [pos] == c;
    }

    s_fragment_t
    alternation (void)
    {
        s_fragment_t first = sequence ();
        if (!at ('|'))
            return first;
        int start = state (), end = state ();
        states [start].empty.push_back (first.start);
        states [first.end].empty.push_back (end);
        while (at ('|')) {
            pos++;
            s_fragment_t next = sequence ();
            states [start].empty.push_back (next.start);
            states [next.end].empty.push_back (end);
        }
        return s_fragment_t {start, end};
    }

    s_fragment_t
    sequence (void)
    {
        s_fragment_t all = empty_fragment ();
        while (pos < text.size () && !at ('|') && !at (')'))
            all = join (all, counted ());
        return all;
    }

    size_t
    number (void)
    {
        size_t value = 0, digits = 0;
        while (pos < text.size () && text [pos] >= '0' && text [pos] <= '9' && digits < 4) {
            value = value * 10 + (size_t) (text [pos++] - '0');
            digits++;
        }
        if (digits == 0 || (pos < text.size () && text [pos] >= '0' && text [pos] <= '9'))
            throw s_unsupported ();
        return value;
    }

    //  An atom and its count, each copy parsed afresh from the atom's text.
    s_fragment_t
    counted (void)
    {
        size_t atom_at = pos;
        s_fragment_t first = atom ();
        size_t after_atom = pos;
        size_t least = 1, most = 1;
        if (at ('?')) {
            least = 0;
            pos++;
        }
        else
        if (at ('{')) {
            pos++;
            least = most = number ();
            if (at (',')) {
                pos++;
                most = number ();
            }
            if (!at ('}') || most < least || most > 99)
                throw s_unsupported ();
            pos++;
        }
        if (at ('?') || at ('*') || at ('+') || at ('{'))
            throw s_unsupported ();             //  lazy, possessive, unbounded or doubled counts
        size_t after_count = pos;
        auto copy = [&] () {
            pos = atom_at;
            s_fragment_t again = atom ();
            pos = after_atom;
            return again;
        };
        s_fragment_t all = empty_fragment ();
        bool used_first = false;
        auto next_copy = [&] () {
            if (!used_first) {
                used_first = true;
                return first;
            }
            return copy ();
        };
        for (size_t i = 0; i < least; i++)
            all = join (all, next_copy ());
        for (size_t i = least; i < most; i++)
            all = join (all, optional (next_copy ()));
        pos = after_count;
        return all;
    }

    s_fragment_t
    digits (uint16_t set)
    {
        int from = state (), to = state ();
        states [from].digits = set;
        states [from].to = to;
        return s_fragment_t {from, to};
    }

    s_fragment_t
    atom (void)
    {
        if (pos >= text.size ())
            throw s_unsupported ();
        char c = text [pos++];
        if (c >= '0' && c <= '9')
            return digits ((uint16_t) (1u << (c - '0')));
        if (c == '\\') {
            if (!at ('d'))
                throw s_unsupported ();
            pos++;
            return digits (0x3ff);
        }
        if (c == '[')
            return digits (digit_class ());
        if (c == '(') {
            if (at ('?')) {
                if (text.compare (pos, 2, "?:") != 0)
                    throw s_unsupported ();
                pos += 2;
            }
            s_fragment_t inner = alternation ();
            if (!at (')'))
                throw s_unsupported ();
            pos++;
            return inner;
        }
        throw s_unsupported ();
    }

    //  The inside of [...], after the '['.
    uint16_t
    digit_class (void)
    {
        uint16_t set = 0;
        bool any = false;
        while (!at (']')) {
            if (pos >= text.size ())
                throw s_unsupported ();
            char c = text [pos++];
            if (c == '\\' && at ('d')) {
                pos++;
                set = 0x3ff;
            }
            else
            if (c >= '0' && c <= '9') {
                char last = c;
                if (at ('-') && pos + 1 < text.size () && text [pos + 1] != ']') {
                    last = text [pos + 1];
                    if (last < c || last > '9')
                        throw s_unsupported ();
                    pos += 2;
                }
                for (char d = c; d <= last; d++)
                    set |= (uint16_t) (1u << (d - '0'));
            }
            else
                throw s_unsupported ();
            any = true;
        }
        pos++;
        if (!any)
            throw s_unsupported ();
        return set;
    }
};

//  ---------------------------------------------------------------------------
//  The states of `nfa` reachable from `from` without reading a digit, sorted.

static std::vector<int>
s_closure (const std::vector<s_nfa_state_t> &nfa, std::vector<int> from)
{
    std::vector<bool> seen (nfa.size (), false);
    std::vector<int> todo = from, result;
    for (int id : from)
        seen [id] = true;
    while (!todo.empty ()) {
        int id = todo.back ();
        todo.pop_back ();
        result.push_back (id);
        for (int next : nfa [id].empty)
            if (!seen [next]) {
                seen [next] = true;
                todo.push_back (next);
            }
    }
    std::sort (result.begin (), result.end ());
    return result;
}

//  ---------------------------------------------------------------------------
//  Compile a libphonenumber pattern into a DFA (subset construction over
//  the ten digits). Throws s_unsupported when the pattern is outside the
//  subset we read or the automaton grows past S_MAX_STATES.

static s_dfa_t *
s_dfa_compile (const std::string &pattern)
{
    s_nfa_builder builder (pattern);
    int start;
    int accepting = builder.build (&start);
    const std::vector<s_nfa_state_t> &nfa = builder.states;

    s_dfa_t *dfa = new s_dfa_t;
    std::map<std::vector<int>, int32_t> known;
    std::vector<std::vector<int>> sets;
    auto add = [&] (const std::vector<int> &set) {
        auto found = known.find (set);
        if (found != known.end ())
            return found->second;
        if (sets.size () >= S_MAX_STATES)
            throw s_unsupported ();
        int32_t id = (int32_t) sets.size ();
        known [set] = id;
        sets.push_back (set);
        dfa->next.push_back (std::array<int32_t, 10> ());
        dfa->accept.push_back (std::binary_search (set.begin (), set.end (), accepting));
        return id;
    };
    try {
        add (s_closure (nfa, {start}));
        for (size_t id = 0; id < sets.size (); id++)
            for (int digit = 0; digit < 10; digit++) {
                std::vector<int> moved;
                for (int member : sets [id])
                    if (nfa [member].digits & (1u << digit))
                        moved.push_back (nfa [member].to);
                int32_t target = moved.empty () ? -1 : add (s_closure (nfa, moved));
                dfa->next [id][digit] = target;
            }
    }
    catch (...) {
        delete dfa;
        throw;
    }
    return dfa;
}

//  ---------------------------------------------------------------------------
//  The compiled form of pattern, shared through plan->compiled. Throws
//  s_unsupported as s_dfa_compile does.

static const s_dfa_t *
s_compile (s_plan_t *plan, const std::string &pattern)
{
    auto found = plan->compiled.find (pattern);
    if (found != plan->compiled.end ())
        return found->second;
    s_dfa_t *dfa = s_dfa_compile (pattern);
    plan->compiled [pattern] = dfa;
    return dfa;
}

//  Whether the whole of `national` (digits) matches.
static bool
s_dfa_whole (const s_dfa_t *dfa, const char *national)
{
    int32_t state = 0;
    for (const char *p = national; *p; p++) {
        state = dfa->next [(size_t) state][*p - '0'];
        if (state < 0)
            return false;
    }
    return dfa->accept [(size_t) state];
}

//  Whether some start of `national` matches (RegExp::Consume, as the
//  library tries leading_digits).
static bool
s_dfa_prefix (const s_dfa_t *dfa, const char *national)
{
    int32_t state = 0;
    if (dfa->accept [0])
        return true;
    for (const char *p = national; *p; p++) {
        state = dfa->next [(size_t) state][*p - '0'];
        if (state < 0)
            return false;
        if (dfa->accept [(size_t) state])
            return true;
    }
    return false;
}

//  ---------------------------------------------------------------------------
//  Prepare one PhoneNumberDesc for ten-digit numbers, as IsNumberMatchingDesc
//  reads it: a desc whose possible lengths are listed and miss 10 (including
//  the [-1] of "no numbers of this kind") or whose pattern is empty never
//  matches. Throws s_unsupported when its pattern cannot be compiled.

static void
s_desc_prepare (s_plan_t *plan, const PhoneNumberDesc &source, s_desc_t *desc)
{
    desc->dfa = NULL;
    bool ten = source.possible_length_size () == 0;
    for (int length : source.possible_length ())
        if (length == S_NATIONAL)
            ten = true;
    if (ten && !source.national_number_pattern ().empty ())
        desc->dfa = s_compile (plan, source.national_number_pattern ());
}

//  ---------------------------------------------------------------------------
//  Fill the tables from libphonenumber's compiled-in metadata, for every
//  region of country code 1 in the order GetRegionCodesForCountryCallingCode
//  gives (US first), which is the order the library's region loop tries.
//  Returns the reason when it cannot, NULL on success.

static const char *
s_plan_build (s_plan_t *plan)
{
#ifdef PP_PHONE_HAVE_METADATA_GET
    PhoneMetadataCollection collection;
    if (!collection.ParseFromArray (i18n::phonenumbers::metadata_get (),
                                    i18n::phonenumbers::metadata_size ()))
        return "cannot parse the compiled-in metadata";
    std::map<std::string, const PhoneMetadata *> by_id;
    for (const PhoneMetadata &metadata : collection.metadata ())
        if (metadata.country_code () == 1)
            by_id [metadata.id ()] = &metadata;

    std::list<std::string> ids;
    PhoneNumberUtil::GetInstance ()->GetRegionCodesForCountryCallingCode (1, &ids);
    if (ids.empty ())
        return "no regions for country code 1";
    for (const std::string &id : ids) {
        auto found = by_id.find (id);
        if (found == by_id.end () || id.size () != 2)
            return "a region of country code 1 has no metadata";
        const PhoneMetadata &metadata = *found->second;
        s_region_t region;
        memcpy (region.id, id.c_str (), 3);
        region.same_mobile_fixed = metadata.same_mobile_and_fixed_line_pattern ();
        const PhoneNumberDesc *kinds [S_KINDS] = {
            &metadata.premium_rate (), &metadata.toll_free (), &metadata.shared_cost (),
            &metadata.voip (), &metadata.personal_number (), &metadata.pager (),
            &metadata.uan (), &metadata.voicemail ()
        };
        try {
            region.leading = metadata.has_leading_digits ()
                           ? s_compile (plan, metadata.leading_digits ()) : NULL;
            s_desc_prepare (plan, metadata.general_desc (), &region.general);
            s_desc_prepare (plan, metadata.fixed_line (), &region.fixed);
            s_desc_prepare (plan, metadata.mobile (), &region.mobile);
            for (int kind = 0; kind < S_KINDS; kind++)
                s_desc_prepare (plan, *kinds [kind], &region.kinds [kind]);
        }
        catch (const s_unsupported &) {
            return "a pattern outside the syntax we compile";
        }
        plan->regions.push_back (region);
    }
    return NULL;
#else
    return "this libphonenumber does not export metadata_get";
#endif
}

//  ---------------------------------------------------------------------------
//  The process's tables: built by the first caller (C++ makes that thread-safe)
//  and never freed.

static const s_plan_t *
s_plan (void)
{
    static const s_plan_t *plan = [] () {
        s_plan_t *fresh = new s_plan_t;
        const char *reason = NULL;
        try {
            reason = s_plan_build (fresh);
        }
        catch (...) {
            reason = "an exception while building them";
        }
        fresh->ready = reason == NULL;
        if (!fresh->ready)
            zsys_warning ("phone: fast numbering-plan tables unavailable (%s): "
                          "using libphonenumber's own matcher", reason);
        return fresh;
    } ();
    return plan;
}

static bool
s_matches (const s_desc_t &desc, const char *national)
{
    return desc.dfa && s_dfa_whole (desc.dfa, national);
}

//  ---------------------------------------------------------------------------
//  GetNumberTypeHelper on our tables: PP_LINE_UNKNOWN when the number is not
//  valid in this region, else its line type.

static pp_line_type_t
s_region_type (const s_region_t &region, const char *national)
{
    static const pp_line_type_t kind_line [S_KINDS] = {
        PP_LINE_PREMIUM, PP_LINE_TOLL_FREE, PP_LINE_OTHER, PP_LINE_VOIP,
        PP_LINE_OTHER, PP_LINE_OTHER, PP_LINE_OTHER, PP_LINE_OTHER
    };
    if (!s_matches (region.general, national))
        return PP_LINE_UNKNOWN;
    for (int kind = 0; kind < S_KINDS; kind++)
        if (s_matches (region.kinds [kind], national))
            return kind_line [kind];
    if (s_matches (region.fixed, national)) {
        if (region.same_mobile_fixed || s_matches (region.mobile, national))
            return PP_LINE_FIXED_OR_MOBILE;
        return PP_LINE_FIXED;
    }
    if (!region.same_mobile_fixed && s_matches (region.mobile, national))
        return PP_LINE_MOBILE;
    return PP_LINE_UNKNOWN;
}

static void
s_set_region (char *region, const char *id)
{
    if (region) {
        memcpy (region, id, 2);
        region [2] = '\0';
    }
}

static bool
s_is_national (const char *national)
{
    if (!national)
        return false;
    for (int i = 0; i < S_NATIONAL; i++)
        if (national [i] < '0' || national [i] > '9')
            return false;
    return national [S_NATIONAL] == '\0';
}

static pp_line_type_t
s_line_from_library (PhoneNumberUtil::PhoneNumberType type)
{
    switch (type) {
        case PhoneNumberUtil::FIXED_LINE:           return PP_LINE_FIXED;
        case PhoneNumberUtil::MOBILE:               return PP_LINE_MOBILE;
        case PhoneNumberUtil::FIXED_LINE_OR_MOBILE: return PP_LINE_FIXED_OR_MOBILE;
        case PhoneNumberUtil::TOLL_FREE:            return PP_LINE_TOLL_FREE;
        case PhoneNumberUtil::PREMIUM_RATE:         return PP_LINE_PREMIUM;
        case PhoneNumberUtil::VOIP:                 return PP_LINE_VOIP;
        case PhoneNumberUtil::UNKNOWN:              return PP_LINE_UNKNOWN;
        default:                                    return PP_LINE_OTHER;
    }
}

//  ---------------------------------------------------------------------------
//  Tell libphonenumber how many leading zeros a national number had: the
//  integer national_number drops them.

static void
s_set_leading_zeros (PhoneNumber *number, const char *national)
{
    int zeros = 0;
    while (national [zeros] == '0' && national [zeros + 1] != '\0')
        zeros++;
    if (zeros > 0) {
        number->set_italian_leading_zero (true);
        number->set_number_of_leading_zeros (zeros);
    }
}

//  ---------------------------------------------------------------------------
//  pp_phone_plan_reference without the exception guard.

static int
s_plan_reference (const char *national, char *region, pp_line_type_t *line)
{
    const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance ();
    PhoneNumber number;
    number.set_country_code (1);
    number.set_national_number (strtoull (national, NULL, 10));
    s_set_leading_zeros (&number, national);
    std::string id;
    util->GetRegionCodeForNumber (number, &id);
    s_set_region (region, id.size () == 2 ? id.c_str () : "ZZ");
    bool valid = util->IsValidNumber (number);
    if (line)
        *line = valid ? s_line_from_library (util->GetNumberType (number)) : PP_LINE_UNKNOWN;
    return valid ? 0 : -1;
}

//  ---------------------------------------------------------------------------
//  pp_phone_plan without the exception guard: the library's region loop. A
//  region with leading digits claims the numbers that start with them, valid
//  or not; one without claims the numbers valid in it.

static int
s_plan_lookup (const char *national, char *region, pp_line_type_t *line)
{
    const s_plan_t *plan = s_plan ();
    if (!plan->ready)
        return s_plan_reference (national, region, line);
    pp_line_type_t type = PP_LINE_UNKNOWN;
    const char *id = "ZZ";
    for (const s_region_t &candidate : plan->regions) {
        if (candidate.leading) {
            if (s_dfa_prefix (candidate.leading, national)) {
                id = candidate.id;
                type = s_region_type (candidate, national);
                break;
            }
        }
        else {
            type = s_region_type (candidate, national);
            if (type != PP_LINE_UNKNOWN) {
                id = candidate.id;
                break;
            }
        }
    }
    s_set_region (region, id);
    if (line)
        *line = type;
    return type == PP_LINE_UNKNOWN ? -1 : 0;
}

//  ---------------------------------------------------------------------------
//  The text as we accept it: digits and where the parentheses were.

struct s_text_t {
    char digits [S_MAX_DIGITS + 1];     //  the first S_MAX_DIGITS digits, NUL-terminated
    size_t count;               //  all digits seen (may exceed S_MAX_DIGITS)
    bool plus;                  //  started with '+'
    bool parens;                //  had a pair of parentheses
    size_t paren_at;            //  digits before the '('
};

//  ---------------------------------------------------------------------------
//  Read the text: PP_PHONE_MALFORMED unless it is, after leading and trailing
//  spaces, an optional '+' right before a digit, then ASCII digits with
//  " -." between them and at most one '(' ... ')' pair around exactly three
//  digits, ending in a digit. Where the pair sits is checked later, once we
//  know the prefix.

static pp_phone_verdict_t
s_read (const char *text, s_text_t *parsed)
{
    memset (parsed, 0, sizeof (*parsed));
    if (!text || strnlen (text, PP_PHONE_MAX_TEXT + 1) > PP_PHONE_MAX_TEXT)
        return PP_PHONE_MALFORMED;
    const char *p = text;
    while (*p == ' ')
        p++;
    const char *end = p + strlen (p);
    while (end > p && end [-1] == ' ')
        end--;
    if (end == p || end [-1] < '0' || end [-1] > '9')
        return PP_PHONE_MALFORMED;
    if (*p != '+' && *p != '(' && (*p < '0' || *p > '9'))
        return PP_PHONE_MALFORMED;
    if (*p == '+') {
        parsed->plus = true;
        p++;
        if (*p < '0' || *p > '9')
            return PP_PHONE_MALFORMED;
    }
    int paren = 0;              //  0: none yet, 1: open, 2: closed
    for (; p < end; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (parsed->count < S_MAX_DIGITS)
                parsed->digits [parsed->count] = c;
            parsed->count++;
        }
        else
        if (c == '(') {
            if (paren != 0)
                return PP_PHONE_MALFORMED;
            paren = 1;
            parsed->parens = true;
            parsed->paren_at = parsed->count;
        }
        else
        if (c == ')') {
            if (paren != 1 || parsed->count - parsed->paren_at != 3)
                return PP_PHONE_MALFORMED;
            paren = 2;
        }
        else
        if (c != ' ' && c != '-' && c != '.')
            return PP_PHONE_MALFORMED;
    }
    if (paren == 1 || parsed->count == 0)
        return PP_PHONE_MALFORMED;
    return PP_PHONE_OK;
}

//  ---------------------------------------------------------------------------
//  Our rules on the ten national digits (see pp_phone_verdict_t).

static pp_phone_verdict_t
s_rules (const char *national)
{
    //  The subscriber part: exchange and line, seven digits.
    const char *sub = national + 3;
    bool same = true, up = true, down = true;
    for (int i = 1; i < 7; i++) {
        int prev = sub [i - 1] - '0', digit = sub [i] - '0';
        same = same && digit == prev;
        up = up && digit == (prev + 1) % 10;
        down = down && digit == (prev + 9) % 10;
    }
    if (same || up || down)
        return PP_PHONE_PATTERN;
    if (memcmp (sub, "555", 3) == 0
    && (memcmp (sub + 3, "01", 2) == 0 || memcmp (sub + 3, "1212", 4) == 0))
        return PP_PHONE_FICTITIOUS;
    if (sub [0] >= '2' && sub [1] == '1' && sub [2] == '1')
        return PP_PHONE_N11;
    return PP_PHONE_OK;
}

//  ---------------------------------------------------------------------------
//  The regions we sell: the US and its NANP territories.

static bool
s_region_ours (const char *region)
{
    static const char *ours [] = { "US", "PR", "VI", "GU", "AS", "MP" };
    for (const char *id : ours)
        if (strcmp (region, id) == 0)
            return true;
    return false;
}

//  ---------------------------------------------------------------------------
//  Ten national digits through our rules and the plan.

static pp_phone_verdict_t
s_check_national (const char *national, pp_line_type_t *line)
{
    pp_phone_verdict_t verdict = s_rules (national);
    if (verdict != PP_PHONE_OK)
        return verdict;
    char region [PP_PHONE_REGION_SIZE];
    if (s_plan_lookup (national, region, line) != 0)
        return PP_PHONE_INVALID;
    return s_region_ours (region) ? PP_PHONE_OK : PP_PHONE_FOREIGN;
}

//  ---------------------------------------------------------------------------
//  A number dialled internationally ("+44 ...", "011 44 ..."): the country
//  code is read as the library reads it (ExtractCountryCode: the shortest
//  prefix of one to three digits that is a known code). Country code 1 comes
//  back to our own checks with its ten digits. Any other is PP_PHONE_FOREIGN
//  when its length is possible for that country (IsPossibleNumber: a length
//  check, no patterns) and PP_PHONE_INVALID otherwise. It is a rejection
//  either way, so the cheap check is enough: a full Parse and IsValidNumber
//  cost about 90 us, and a publisher sending foreign numbers must not be
//  able to slow the stage down.

static pp_phone_verdict_t
s_check_international (const char *digits, char *national, pp_line_type_t *line)
{
    const PhoneNumberUtil *util = PhoneNumberUtil::GetInstance ();
    size_t count = strlen (digits);
    if (digits [0] == '0')
        return PP_PHONE_INVALID;
    int code = 0;
    size_t code_digits = 0;
    for (size_t i = 1; i <= 3 && i < count && code_digits == 0; i++) {
        code = code * 10 + (digits [i - 1] - '0');
        std::string region;
        util->GetRegionCodeForCountryCode (code, &region);
        if (region != "ZZ")
            code_digits = i;
    }
    if (code_digits == 0)
        return PP_PHONE_INVALID;
    const char *rest = digits + code_digits;
    size_t rest_count = count - code_digits;
    if (code == 1) {
        if (rest_count != S_NATIONAL)
            return PP_PHONE_INVALID;
        memcpy (national, rest, S_NATIONAL + 1);
        return s_check_national (national, line);
    }
    if (rest_count > S_MAX_NSN)
        return PP_PHONE_INVALID;
    PhoneNumber number;
    number.set_country_code (code);
    number.set_national_number (strtoull (rest, NULL, 10));
    s_set_leading_zeros (&number, rest);
    return util->IsPossibleNumber (number) ? PP_PHONE_FOREIGN : PP_PHONE_INVALID;
}

//  ---------------------------------------------------------------------------
//  pp_phone_check without the exception guard.

static pp_phone_verdict_t
s_check (const char *text, char *national, pp_line_type_t *line)
{
    s_text_t parsed;
    pp_phone_verdict_t verdict = s_read (text, &parsed);
    if (verdict != PP_PHONE_OK)
        return verdict;
    if (parsed.count > S_MAX_DIGITS)
        return PP_PHONE_INVALID;

    //  Where the national number starts among the digits.
    size_t start;
    if (parsed.plus) {
        if (parsed.digits [0] != '1')
            return s_check_international (parsed.digits, national, line);
        start = 1;
        if (parsed.count != 1 + S_NATIONAL)
            return PP_PHONE_INVALID;
    }
    else
    if (parsed.count > 3 && memcmp (parsed.digits, "011", 3) == 0)
        return s_check_international (parsed.digits + 3, national, line);
    else
    if (parsed.count == S_NATIONAL)
        start = 0;
    else
    if (parsed.count == 1 + S_NATIONAL && parsed.digits [0] == '1')
        start = 1;
    else
        return PP_PHONE_INVALID;

    //  Parentheses go around the area code and nothing else.
    if (parsed.parens && parsed.paren_at != start)
        return PP_PHONE_MALFORMED;
    memcpy (national, parsed.digits + start, S_NATIONAL);
    national [S_NATIONAL] = '\0';
    return s_check_national (national, line);
}


//  ---------------------------------------------------------------------------
//  The C API.

pp_phone_verdict_t
pp_phone_check (const char *text, char *e164, size_t size, pp_line_type_t *line)
{
    assert (!e164 || size >= PP_PHONE_E164_SIZE);
    char national [S_NATIONAL + 1] = "";
    pp_line_type_t type = PP_LINE_UNKNOWN;
    pp_phone_verdict_t verdict;
    try {
        verdict = s_check (text, national, &type);
    }
    catch (const std::exception &e) {
        //  Only an allocation failure on the international path can get here.
        zsys_error ("phone: libphonenumber failed: %s", e.what ());
        verdict = PP_PHONE_INVALID;
    }
    catch (...) {
        zsys_error ("phone: libphonenumber failed");
        verdict = PP_PHONE_INVALID;
    }
    if (verdict != PP_PHONE_OK)
        type = PP_LINE_UNKNOWN;
    if (e164) {
        if (verdict == PP_PHONE_OK)
            snprintf (e164, size, "+1%s", national);
        else
            e164 [0] = '\0';
    }
    if (line)
        *line = type;
    return verdict;
}

const char *
pp_phone_verdict_name (int verdict)
{
    switch (verdict) {
        case PP_PHONE_OK:           return "ok";
        case PP_PHONE_MALFORMED:    return "malformed";
        case PP_PHONE_INVALID:      return "invalid";
        case PP_PHONE_FOREIGN:      return "foreign";
        case PP_PHONE_PATTERN:      return "pattern";
        case PP_PHONE_FICTITIOUS:   return "fictitious";
        case PP_PHONE_N11:          return "n11";
    }
    return "unknown";
}

const char *
pp_line_type_name (int line)
{
    switch (line) {
        case PP_LINE_UNKNOWN:           return "unknown";
        case PP_LINE_MOBILE:            return "mobile";
        case PP_LINE_FIXED:             return "fixed";
        case PP_LINE_FIXED_OR_MOBILE:   return "fixed_or_mobile";
        case PP_LINE_TOLL_FREE:         return "toll_free";
        case PP_LINE_VOIP:              return "voip";
        case PP_LINE_PREMIUM:           return "premium";
        case PP_LINE_OTHER:             return "other";
    }
    return "unknown";
}

int
pp_phone_init (void)
{
    try {
        return s_plan ()->ready ? 0 : -1;
    }
    catch (...) {
        return -1;
    }
}

int
pp_phone_plan (const char *national, char *region, pp_line_type_t *line)
{
    s_set_region (region, "ZZ");
    if (line)
        *line = PP_LINE_UNKNOWN;
    if (!s_is_national (national))
        return -1;
    try {
        return s_plan_lookup (national, region, line);
    }
    catch (...) {
        zsys_error ("phone: numbering-plan lookup failed");
        s_set_region (region, "ZZ");
        if (line)
            *line = PP_LINE_UNKNOWN;
        return -1;
    }
}

int
pp_phone_plan_reference (const char *national, char *region, pp_line_type_t *line)
{
    s_set_region (region, "ZZ");
    if (line)
        *line = PP_LINE_UNKNOWN;
    if (!s_is_national (national))
        return -1;
    try {
        return s_plan_reference (national, region, line);
    }
    catch (...) {
        zsys_error ("phone: numbering-plan lookup failed");
        s_set_region (region, "ZZ");
        if (line)
            *line = PP_LINE_UNKNOWN;
        return -1;
    }
}
