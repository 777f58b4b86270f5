/* plat_x */
