/* plat_y */
