;; The FIR decimators' inner loop with 128-bit SIMD (four float32 lanes), built into
;; src/audio/fir-simd-wasm.ts by `npm run build:wasm`. JavaScript has no SIMD, and this loop is
;; most of the input path's per-frame cost (bench "audio": downsample48to24Us).
;;
;; decimate(taps, taps4, work, start, step, count, out): for n in 0..count-1,
;;   out[n] = saturate16(round(sum over k < 4 * taps4 of taps[k] * work[start + n * step + k]))
;; taps and work are float32 arrays, out int16; pointers are byte addresses. taps is zero-padded to
;; a multiple of four and stored oldest-sample-first (a symmetric filter reads the same either way).
(module
  (memory (export "memory") 1)
  (func (export "decimate")
    (param $taps i32) (param $taps4 i32) (param $work i32) (param $start i32)
    (param $step i32) (param $count i32) (param $out i32)
    (local $n i32) (local $window i32) (local $tap i32) (local $j i32) (local $acc v128)
    (local $sum f32)
    (local.set $window (i32.add (local.get $work) (i32.shl (local.get $start) (i32.const 2))))
    (block $done
      (loop $outputs
        (br_if $done (i32.ge_u (local.get $n) (local.get $count)))
        (local.set $acc (f32x4.splat (f32.const 0)))
        (local.set $tap (local.get $taps))
        (local.set $j (i32.const 0))
        (loop $macs
          (local.set $acc
            (f32x4.add (local.get $acc)
              (f32x4.mul
                (v128.load (local.get $tap))
                (v128.load (i32.add (local.get $window) (i32.shl (local.get $j) (i32.const 4)))))))
          (local.set $tap (i32.add (local.get $tap) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $macs (i32.lt_u (local.get $j) (local.get $taps4))))
        (local.set $sum
          (f32.nearest
            (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
              (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))))
        (i32.store16
          (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 1)))
          (i32.trunc_sat_f32_s
            (f32.min (f32.const 32767) (f32.max (f32.const -32768) (local.get $sum)))))
        (local.set $window (i32.add (local.get $window) (i32.shl (local.get $step) (i32.const 2))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $outputs)))))
