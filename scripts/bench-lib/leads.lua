--  leads.lua - wrk script: POST varied leads to /v1/leads, count the answers by status
--  Copyright (c) the pingpost authors. Licensed under the Apache License 2.0.
--
--  wrk -t2 -c32 -d10s -s leads.lua http://127.0.0.1:PORT -- KEY SOURCE VERTICAL SEED [TIMEOUT_MS] [KIND]
--
--  KIND "valid" (default) or "reject": with "reject" every phone is a
--  fictitious 555-01xx number, so validate rejects every lead (phone_invalid),
--  as pingpost-loadgen --reject does (scripts/bench's `reject` scenario).
--  Every request is a new lead with a valid phone and a unique email (the
--  vertical dedupes on both: a repeat would be answered "duplicate"): number
--  k = SEED + thread * 10^7 + n, so distinct SEEDs keep runs apart. The same lead shape as
--  bench/loadgen.c. wrk runs LuaJIT (Lua 5.1): no integer division operator.
--  At the end prints one line "BENCH_JSON {...}" with wrk's figures and the
--  answers by lead status.

local floor = math.floor
local places = {
    {"CA", "90001"}, {"NV", "89101"}, {"TX", "73301"}, {"FL", "33101"}, {"NY", "10001"},
    {"AZ", "85001"}, {"CO", "80201"}, {"NJ", "07001"}, {"WA", "98101"}, {"OR", "97201"}
}
local credits = {"excellent", "good", "fair", "poor"}
--  Area codes in service and exchanges 200-999 without N11 and 555: valid,
--  non-fictional US numbers (the same plan as bench/loadgen.c)
local areas = {
    201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218,
    219, 224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260,
    262, 267, 269, 270, 276, 281, 301, 302, 303, 304, 305, 307, 308, 309, 310, 312,
    313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 325, 330, 334, 336, 337, 339,
    347, 351, 352, 360, 361, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412,
    413, 414, 415, 417, 419, 423, 425, 432, 434, 435, 440, 443, 469, 478, 479, 480,
    484, 501, 502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518,
    520, 530, 540, 541, 559, 561, 562, 563, 567, 570, 571, 573, 574, 580, 585, 586,
    601, 602, 603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619,
    620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661, 662, 678, 682, 701,
    702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720, 724,
    727, 731, 732, 734, 740, 754, 757, 760, 763, 765, 770, 772, 773, 774, 775, 781,
    785, 786, 801, 802, 803, 804, 805, 806, 810, 812, 813, 814, 815, 816, 817, 818,
    828, 830, 831, 832, 843, 845, 847, 848, 850, 856, 857, 858, 859, 860, 862, 863,
    864, 865, 870, 901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916,
    917, 918, 919, 920, 925, 928, 931, 936, 937, 940, 941, 949, 951, 952, 954, 956,
    970, 971, 972, 973, 978, 979, 980, 985, 989
}
local exchanges = {}
for e = 200, 999 do
    if e % 100 ~= 11 and e ~= 555 then table.insert (exchanges, e) end
end
local statuses = {"sold", "unsold", "rejected", "duplicate", "error"}

--  Main state: every thread, to read their counters in done()
local threads = {}
local thread_count = 0

function setup (thread)
    thread:set ("tid", thread_count)
    thread_count = thread_count + 1
    table.insert (threads, thread)
end

function init (args)
    key = args [1] or error ("leads.lua: KEY argument missing")
    source = args [2] or "bench"
    vertical = args [3] or "solar"
    seed = tonumber (args [4] or "0")
    lead_timeout = tonumber (args [5] or "3000")
    reject = (args [6] == "reject")
    if args [6] and args [6] ~= "valid" and not reject then
        error ("leads.lua: KIND is valid or reject, not " .. args [6])
    end
    n = 0
    nonce = string.format ("%x%d", os.time (), tid)
    now_iso = os.date ("!%Y-%m-%dT%H:%M:%SZ")
    headers = {
        ["Authorization"] = "Bearer " .. key,
        ["Content-Type"] = "application/json"
    }
    --  Counters, read by done() through thread:get
    c_sold, c_unsold, c_rejected, c_duplicate, c_error, c_other, c_non200 = 0, 0, 0, 0, 0, 0, 0
    first_error = ""
end

function request ()
    local k = seed + tid * 10000000 + n
    local line = k % 10000
    local exchange = exchanges [floor (k / 10000) % #exchanges + 1]
    local area = areas [floor (k / (10000 * #exchanges)) % #areas + 1]
    if reject then
        --  555-0100..0199: reserved for fiction, phone_invalid in validate
        exchange = 555
        line = 100 + k % 100
    end
    local place = places [n % #places + 1]
    local body = string.format (
        '{"vertical":"%s","source":"%s","sub_id":"s%d","timeout_ms":%d,' ..
        '"fields":{"first_name":"Bench","last_name":"Lead",' ..
        '"email":"wrk%d.%s@bench.example.com","phone":"(%03d) %03d-%04d",' ..
        '"zip":"%s","state":"%s","monthly_bill":%d,"home_owner":%s,"credit":"%s"},' ..
        '"consent":{"tcpa":true,"text":"I agree to be contacted by solar partners.",' ..
        '"timestamp":"%s"},"signals":{"honeypot":""}}',
        vertical, source, n % 50, lead_timeout, k, nonce, area, exchange, line,
        place [2], place [1], 50 + (n * 37) % 450, (n % 3 ~= 0) and "true" or "false",
        credits [n % 4 + 1], now_iso)
    n = n + 1
    return wrk.format ("POST", "/v1/leads", headers, body)
end

function response (status, headers, body)
    if status ~= 200 then
        c_non200 = c_non200 + 1
        if first_error == "" then
            first_error = "HTTP " .. status .. ": " .. string.sub (body or "", 1, 200)
        end
        return
    end
    local s = string.match (body, '"status"%s*:%s*"(%a+)"')
    if s == "sold" then c_sold = c_sold + 1
    elseif s == "unsold" then c_unsold = c_unsold + 1
    elseif s == "rejected" then c_rejected = c_rejected + 1
    elseif s == "duplicate" then c_duplicate = c_duplicate + 1
    elseif s == "error" then c_error = c_error + 1
    else c_other = c_other + 1 end
end

local function json_string (s)
    s = string.gsub (s, '[%c"\\]', function (c)
        if c == '"' or c == '\\' then return '\\' .. c end
        return ' '
    end)
    return '"' .. s .. '"'
end

function done (summary, latency, requests)
    local counts = {sold = 0, unsold = 0, rejected = 0, duplicate = 0, error = 0, other = 0}
    local non200 = 0
    local first = ""
    for _, thread in ipairs (threads) do
        for _, name in ipairs (statuses) do
            counts [name] = counts [name] + (thread:get ("c_" .. name) or 0)
        end
        counts.other = counts.other + (thread:get ("c_other") or 0)
        non200 = non200 + (thread:get ("c_non200") or 0)
        local e = thread:get ("first_error") or ""
        if first == "" then first = e end
    end
    local e = summary.errors
    local seconds = summary.duration / 1e6
    io.write (string.format (
        'BENCH_JSON {"mode":"max","threads":%d,"duration_s":%.3f,"requests":%d,"bytes":%d,' ..
        '"non200":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
        '"requests_per_s":%.1f,"answered_200_per_s":%.1f,' ..
        '"status":{"sold":%d,"unsold":%d,"rejected":%d,"duplicate":%d,"error":%d,"other":%d},' ..
        '"latency_us":{"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},' ..
        '"first_error":%s}\n',
        thread_count, seconds, summary.requests, summary.bytes, non200,
        e.connect, e.read, e.write, e.timeout,
        summary.requests / seconds, (summary.requests - non200) / seconds,
        counts.sold, counts.unsold, counts.rejected, counts.duplicate, counts.error, counts.other,
        latency.mean, latency.stdev, latency:percentile (50), latency:percentile (90),
        latency:percentile (99), latency:percentile (99.9), latency.max, json_string (first)))
end
