{{ $d := sprig_dict "a" 1 "b" (sprig_list "x" 2.5 nil) }}{{ $_ := sprig_set $d "c" (sprig_until 3) }}{{ sprig_toPrettyJson $d }}
{{ mergeMapWithOverride $d (parseYAML "a: {z: 1}") | toUnescapedJSON }} {{ explodeMap (splitToMap "," "=" "a/b=1,c=2") }}
{{ range loop 2 5 }}{{ . | add 1 | multiply 3 | divide 2 | modulo 4 }} {{ end }}{{ 7.5 | divide 2 | maximum 1 }}
{{ sprig_title "hello wörld" }} {{ toTitle "1st éa" }} {{ indent 2 "a\n\nb" }} {{ sprig_nindent 2 "x" }} {{ trim "xy" "xyaxy" }}
{{ base64URLEncode "\xff?" | base64URLDecode | sprig_b64enc | sprig_b64dec }} {{ md5sum "a" }} {{ hmacSHA256Hex "m" "k" }}
{{ sprig_sortAlpha (sprig_uniq (sprig_list "b" "a" "b")) }} {{ sprig_default "d" "" }} {{ sprig_date "2006-01-02" sprig_now }}
{{ parseInt "-12" }} {{ parseFloat "1e3" }} {{ parseBool "t" }} {{ containsAll (sprig_list "a") (sprig_list "a" "b") }}
{{ sprig_base "/a/b.c" }} {{ sprig_clean "a/../../b" }} {{ sprig_fromJson "{\"k\": [1]}" }} {{ sprig_quote "a\"" 1 }}
