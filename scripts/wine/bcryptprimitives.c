/*
 * A test-only stand-in for Windows' bcryptprimitives.dll, for running the
 * Windows build under Wine 8 (Debian 12), which lacks that DLL. Rust's
 * standard library (1.78 and later) imports ProcessPrng from it for every
 * random number (HashMap keys among them), so without it no .exe starts
 * (status c0000135). Real Windows 10 and later has the DLL; this file is
 * never shipped. Built by scripts/wine/setup with mingw-w64 and copied
 * into the Wine prefix's system32 only.
 *
 * ProcessPrng is documented to always succeed and return TRUE; it forwards
 * to RtlGenRandom (advapi32's SystemFunction036), which Wine implements
 * from the host's random source.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
