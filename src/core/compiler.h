/* Compiler annotations shared by every module. No code, no state. */
#ifndef VMLOC_CORE_COMPILER_H
#define VMLOC_CORE_COMPILER_H

#if defined(__GNUC__) || defined(__clang__)
#define MUST_CHECK __attribute__((warn_unused_result))
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#define NORETURN __attribute__((noreturn))
#else
#define MUST_CHECK
#define PRINTF_LIKE(fmt, args)
#define NORETURN
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
