/* The bundled example: a static binary that is the whole image (FROM scratch). */
#include <stdio.h>

int main(void) {
    printf("hello world\n");
    return 0;
}
